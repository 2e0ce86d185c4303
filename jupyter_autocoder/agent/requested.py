"""The names and files a request asks the code to make, read from its plain words.

    expected_results("Compute the total per month into a Series monthly indexed by month")
    # ExpectedResults(names=["monthly"], files=[])

After a clean run the loop checks that they exist, so that a result left under another name
is caught ("a float in acc" answered with `accuracy = ...`). A name is only taken where
the wording leaves no doubt, because a wrong one costs the user a round and a stray
variable:

- backticks after a kind or a placement: "the dataframe `sales`", "store it in `total`";
- "called x", "named x"; "a function fib(n)";
- a placement with a kind: "into a Series monthly", "in the list keep", "as a DataFrame cm";
- a kind followed by the end of the phrase: "a DataFrame summary indexed by ...", "the list
  keep.", "a Series by_country, largest first";
- a store verb, then "in x": "store the mean accuracy as a float in cv_acc", "keep the
  figure in fig".

The candidate must look like a name and not be an ordinary word that follows such phrases
("a list comprehension", "in place", "as a float first"): `COMMON_WORDS` lists those.
A column is not a variable: "a new column ma7" names nothing to check.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class ExpectedResults:
    """Names and files a request asks to exist once the code has run."""

    names: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.names or self.files)


_FILE_EXTENSIONS = (
    "csv|tsv|json|jsonl|txt|png|jpg|jpeg|svg|pdf|html|parquet|feather|xlsx|xls|pkl|pickle|npy|"
    "npz|h5|hdf5|yaml|yml|md|zip|gz|db|sqlite|joblib|pt|pth|onnx|xml|log|wav|mp4|gif"
)
_OUTPUT_VERBS = (
    r"(?:save|saves|saving|saved|write|writes|writing|export|exports|store|dump|create|"
    r"creates|generate|produce)"
)
_FILE_REQUEST = re.compile(
    rf"\b{_OUTPUT_VERBS}\b[^.\n]*?[`'\"]?(?P<path>[\w./-]+\.(?:{_FILE_EXTENSIONS}))\b",
    re.IGNORECASE,
)

# Kinds of value a request names a variable with. "column" is left out on purpose: a column
# lives in a DataFrame, and `defined_names` looks for variables.
_KINDS = (
    r"(?:function|variable|var|dataframe|data\s*frame|df|class|list|dict|dictionary|array|"
    r"ndarray|series|model|constant|set|tuple|string|str|table|pivot\s+table|figure|float|"
    r"int|integer|number|bool|boolean|matrix|scalar|mapping|estimator|pipeline|classifier|"
    r"regressor)"
)
_ARTICLE = r"(?:(?:a|an|the|one|new|single|separate|pandas|numpy|python|long|wide|plain)\s+)*"
_NAME = r"(?P<name>[A-Za-z_]\w*)"
# What may close the phrase after a name: punctuation, the end, or a word that describes it.
_PHRASE_END = (
    r"(?=\s*(?:$|[.,;:!?)\n]|\s(?:indexed|sorted|ordered|holding|containing|with|whose|where|"
    r"that|which|of|from|for|in|on|per|and|or|keyed|listing|giving|made|built|computed|"
    r"mapping|showing|having|including)\b))"
)
_STORE_VERBS = (
    r"(?:store|stores|storing|save|saves|saving|put|puts|putting|keep|keeps|keeping|assign|"
    r"assigns|place|places|hold|holds|leave|leaves|collect|collects|gather|return|record|"
    r"records|write|writes)"
)

# Kinds after which a plain word may be the name ("the list keep"): data structures only;
# "the model accuracy" or "the figure title" are compound nouns far more often.
_STRUCTURES = (
    r"(?:dataframe|data\s*frame|list|dict|dictionary|array|ndarray|series|tuple|set|matrix|"
    r"variable)"
)

_EXPLICIT_PATTERNS = (
    # "a function called fib", "a variable named `total`"
    re.compile(r"\b(?:called|named)\s+[`'\"]?(?P<name>[A-Za-z_]\w*)", re.IGNORECASE),
    # "a function `fib`", "the dataframe `sales`"
    re.compile(rf"\b{_KINDS}\s+`(?P<name>[A-Za-z_]\w*)`", re.IGNORECASE),
    # "write a function fib(n)", "define fib(n)"
    re.compile(
        r"\b(?:function|define|implement|write)\s+(?:a\s+)?(?:function\s+)?`?"
        r"(?P<name>[A-Za-z_]\w*)`?\s*\(",
        re.IGNORECASE,
    ),
    # "store the result in `total`", "assign it to `x`", "save it as `df2`"
    re.compile(
        rf"\b(?:in|into|to|as)\s+{_ARTICLE}(?:{_KINDS}\s+)?`(?P<name>[A-Za-z_]\w*)`",
        re.IGNORECASE,
    ),
)

_PROSE_PATTERNS = (
    # "into a Series monthly", "in the list keep", "as a DataFrame cm", "a float in acc"
    re.compile(rf"\b(?:in|into|as|to)\s+{_ARTICLE}{_KINDS}\s+{_NAME}{_PHRASE_END}", re.IGNORECASE),
    # "a DataFrame summary indexed by", "the list keep.", "a Series by_country, largest first"
    re.compile(rf"\b(?:a|an|the)\s+{_ARTICLE}{_STRUCTURES}\s+{_NAME}{_PHRASE_END}", re.IGNORECASE),
    # "store the test accuracy as a float in acc", "store in best_feature the name of ..."
    re.compile(
        rf"\b{_STORE_VERBS}\b[^.;\n]*?\s(?:in|into)\s+{_NAME}"
        r"(?=\s*(?:$|[.,;:!?)\n]|\s(?:the|a|an|and)\b))",
        re.IGNORECASE,
    ),
)

# Never names, wherever they stand ("called it", "named the").
_FUNCTION_WORDS = frozenset(
    "it its that this these those them they which the a an and or to of for with".split()
)

# Words that follow "a list", "in", "as a float" in ordinary requests: in prose, never taken
# for names. Nouns that often are names ("counts", "result", "data") are not here: after a
# kind ("a Series counts indexed by ...") they are the name.
COMMON_WORDS = frozenset(
    """
    it its itself that this these those them they which what who whose where when why how
    and or but nor not no yes to of for with without by from on at in into onto as per via
    than then there here instead first last next again also only just once twice each every
    all any some both either neither other another same such own more most less least
    place order memory mind percent percentage parallel general particular time advance full
    addition case fact practice turn short detail details
    comprehension comprehensions representation format formats form type types object
    objects literal literals lookup lookups slice slicing view copy version instance method
    methods attribute attributes structure constructor accessor unpacking notation syntax
    element elements item items entry entries key keys index indexes indices column columns
    row rows field fields cell cells value length shape size dtype dtypes width height
    header footer head tail above below difference union intersection
    python pandas numpy scipy sklearn matplotlib seaborn json csv excel parquet sql html
    markdown text unicode utf ascii bytes disk cache
    ascending descending alphabetical alphabetically reverse chronological numeric numerical
    big small large new old empty single separate whole plain simple nice fast slow good best
    better final main proper correct sorted ordered indexed keyed grouped named called
    containing holding having including showing giving made built computed listing mapping
    now later before after
    is are was were be been being do does did done has have had will would can could should
    may might must shall
    """.split()
)

_BUILTIN_NAMES = frozenset(dir(builtins))


def _looks_like_a_name(name: str, prose: bool) -> bool:
    """Whether a word the patterns found can be taken for a name. In prose (no backticks,
    no "called"), ordinary words and capitalised words are left out."""
    lowered = name.lower()
    if keyword.iskeyword(name) or lowered in _FUNCTION_WORDS:
        return False
    if name in _BUILTIN_NAMES:  # "the list sum" means the function, not a variable
        return False
    if not prose:
        return True
    if lowered in COMMON_WORDS:
        return False
    if name.isalpha() and name[0].isupper() and not name.isupper():
        return False  # "in English", "a DataFrame Sales": a proper noun, most likely
    return True


def expected_results(request: str) -> ExpectedResults:
    """Variables, functions and files that `request` asks the code to make."""
    names: list[str] = []
    found = [(m, False) for pattern in _EXPLICIT_PATTERNS for m in pattern.finditer(request)]
    found += [(m, True) for pattern in _PROSE_PATTERNS for m in pattern.finditer(request)]
    for match, prose in found:
        name = match.group("name")
        if name in names or not _looks_like_a_name(name, prose):
            continue
        if prose and _inside_quotes(request, match.start("name")):
            continue  # a column or a value quoted in the prose, not a variable
        if prose and match.re is _PROSE_PATTERNS[-1] and _plain_plural(name):
            continue  # "put the values in bins": a plural after "in" is a way, not a name
        names.append(name)
    files: list[str] = []
    for match in _FILE_REQUEST.finditer(request):
        path = match.group("path")
        if path not in files and not path.startswith(("http", "www.")):
            files.append(path)
    # A file's stem ("save it as hist.png") is not a variable.
    stems = {path.rsplit("/", 1)[-1].split(".", 1)[0] for path in files}
    names = [name for name in names if name not in stems or _named_in_backticks(request, name)]
    return ExpectedResults(_in_order_of_appearance(request, names), files)


def _plain_plural(word: str) -> bool:
    return word.isalpha() and word.islower() and len(word) > 3 and word.endswith("s")


def _inside_quotes(text: str, position: int) -> bool:
    """Whether `position` is inside '...' or "..." on its line (a quoted value); an
    apostrophe inside a word ("store's") opens nothing."""
    line_start = text.rfind("\n", 0, position) + 1
    before = re.sub(r"(?<=\w)'(?=\w)", "", text[line_start:position])
    return before.count("'") % 2 == 1 or before.count('"') % 2 == 1


def _named_in_backticks(text: str, name: str) -> bool:
    return f"`{name}`" in text


def _in_order_of_appearance(text: str, names: list[str]) -> list[str]:
    def position(name: str) -> int:
        match = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text)
        return match.start() if match else len(text)

    return sorted(names, key=position)


def missing_results_feedback(missing_names: Iterable[str], missing_files: Iterable[str]) -> str:
    items = [f"`{name}` (not defined)" for name in missing_names]
    items += [f"the file `{path}` (not found)" for path in missing_files]
    return (
        "The code ran without errors, but what the request asks for does not exist afterwards: "
        + ", ".join(items)
        + ". Change the code so that it makes them, with exactly these names."
    )


# -- the form a request gives a result -------------------------------------------------------

# A kind word as the request says it -> the type a value of that kind has (`values.facts`).
_FORM_OF_KIND = {
    "series": "pandas Series",
    "dataframe": "pandas DataFrame",
    "data frame": "pandas DataFrame",
    "dataframe table": "pandas DataFrame",
    "table": "pandas DataFrame",
    "pivot table": "pandas DataFrame",
    "list": "list",
    "dict": "dict",
    "dictionary": "dict",
    "tuple": "tuple",
    "set": "set",
    "float": "float",
    "int": "int",
    "integer": "int",
    "string": "str",
    "str": "str",
    "array": "numpy ndarray",
    "ndarray": "numpy ndarray",
    "figure": "matplotlib Figure",
}
_TYPE_KINDS = "|".join(
    sorted((kind.replace(" ", r"\s+") for kind in _FORM_OF_KIND), key=len, reverse=True)
)
_DESCENDING = re.compile(
    r"\b(?:largest|highest|biggest|most\s+\w+)\s+first\b|\bin\s+descending\s+order\b", re.I
)
_ASCENDING = re.compile(r"\b(?:smallest|lowest|fewest)\s+first\b|\bin\s+ascending\s+order\b", re.I)
_INDEXED = re.compile(r"^\W*(?:\w+\W+){0,3}?indexed\s+by\b", re.I)


@dataclass(frozen=True)
class RequestedForm:
    """What the request says of one result: its type, whether it is indexed by something,
    and the order of its values. None where the request does not say."""

    name: str
    type: str | None = None
    indexed: bool = False
    order: str | None = None  # "decreasing" or "increasing" (a Series' values)


def requested_forms(request: str, names: Iterable[str]) -> list[RequestedForm]:
    """The form of each of `names` (found in `request` by `expected_results`), read from the
    words around it: "a Series monthly indexed by month", "a float in acc", "a Series share
    indexed by store, largest first". Only what the words leave no doubt about."""
    forms = []
    for name in names:
        quoted = rf"`?{re.escape(name)}`?"
        # "a Series monthly", "the list keep"; "a float in acc", "the figure in fig"
        kind = re.search(rf"\b({_TYPE_KINDS})\s+(?:in(?:to)?\s+)?{quoted}(?!\w)", request, re.I)
        # The words after the name (after its kind's mention, else its last mention: the
        # same word may stand earlier as plain English, "each store's share ... a Series share").
        places = list(re.finditer(rf"(?<![\w.]){quoted}(?!\w)", request))
        end = kind.end() if kind else (places[-1].end() if places else len(request))
        clause = re.split(
            r"[.;\n]|,\s*then\b|\band\s+(?:then\s+)?(?:put|store|make|keep)\b",
            request[end:],
            maxsplit=1,
        )[0]
        type_name = _FORM_OF_KIND.get(re.sub(r"\s+", " ", kind.group(1).lower())) if kind else None
        order = None
        if type_name == "pandas Series":
            if _DESCENDING.search(clause):
                order = "decreasing"
            elif _ASCENDING.search(clause):
                order = "increasing"
        indexed = type_name in ("pandas Series", "pandas DataFrame") and bool(
            _INDEXED.search(clause)
        )
        forms.append(RequestedForm(name, type_name, indexed, order))
    return forms


# -- the variables a request asks to change ---------------------------------------------------

# Verbs by which a request asks to change data it names ("convert the when column of log",
# "drop the empty rows of df", "add a column total to sales"), in the forms they take.
_CHANGE_VERBS = (
    "add adds added adding append appends appended appending assign assigns assigned cast "
    "casts change changes changed changing clean cleans cleaned cleaning convert converts "
    "converted converting correct corrects corrected delete deletes deleted deduplicate "
    "deduplicated dedupe drop drops dropped dropping edit edits edited encode encodes "
    "encoded extend extends extended fill fills filled filling filter filters filtered fix "
    "fixes fixed impute imputes imputed insert inserts inserted load loads loaded loading "
    "modify modifies modified mutate mutates mutated normalize normalizes normalized "
    "normalise normalised overwrite overwrites overwritten parse parses parsed reassign "
    "reassigns reassigned read reads reindex reload reloads reloaded remove removes removed "
    "removing rename renames renamed reorder reordered replace replaces replaced reset "
    "resets round rounds rounded scale scales scaled set sets setting shuffle shuffled sort "
    "sorts standardize standardized standardise strip strips stripped transform transforms "
    "transformed trim trims trimmed update updates updated"
).split()
_CHANGE_WORDS = re.compile(
    rf"\b(?:{'|'.join(_CHANGE_VERBS)})\b|\bin[- ]?place\b|\binplace\b", re.IGNORECASE
)
_FENCED = re.compile(r"(```|~~~)[\w+-]*[ \t]*\n(?P<code>.*?)\1", re.DOTALL)
_SENTENCE_END = re.compile(r"[.!?;](?:\s+|$)|\n")
_REFERS_BACK = re.compile(r"\b(?:it|its|them|their|this|these|those|columns?)\b", re.IGNORECASE)


def changed_names(request: str) -> list[str]:
    """The variables `request` asks to change, which the guard of the user's variables leaves
    alone: the words of each sentence that asks for a change ("Convert the `when` column of
    log to datetimes" gives `log`, among ordinary words that name no variable), or of the
    whole request where that sentence refers back ("trips has a column start. Parse it in
    place", "prices has a column close. Add a column ma7"), and the names that the code
    quoted in the request assigns or changes (the cell a fix rewrites). Generous on purpose:
    a change the user asked for must not be reported as unwanted."""
    names: list[str] = []
    for block in _FENCED.finditer(request):
        names.extend(assigned_names(block.group("code")))
    prose = _FENCED.sub(" ", request)
    for sentence in _SENTENCE_END.split(prose):
        if not _CHANGE_WORDS.search(sentence):
            continue
        # "Parse it in place", "Add a column ma7": what is changed was named before.
        scope = prose if _REFERS_BACK.search(sentence) else sentence
        names.extend(re.findall(r"(?<![\w.])[A-Za-z_]\w*", scope))
    return list(dict.fromkeys(names))


def assigned_names(code: str) -> list[str]:
    """The names `code` binds or changes: assignment targets (`df = ...`, `df['x'] = ...`,
    `df.x = ...`, `df += ...`), `del`, loop and `with` targets, imports, and calls with
    `inplace=True` or of methods that change their object (`df.drop(..., inplace=True)`,
    `items.append(...)`). Code that does not parse gives the names before a `=` at line
    starts."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        starts = re.findall(r"(?m)^\s*([A-Za-z_]\w*)\b[^=\n]*?(?<![=!<>])=(?!=)", code)
        return list(dict.fromkeys(starts))
    found: list[str] = []

    def base(node: ast.AST) -> None:
        while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
            node = node.value
        if isinstance(node, ast.Name):
            found.append(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for item in node.elts:
                base(item)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                base(target)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            base(node.target)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                base(target)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    base(item.optional_vars)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.extend((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append(node.name)
        elif isinstance(node, ast.NamedExpr):
            base(node.target)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            inplace = any(
                argument.arg == "inplace"
                and isinstance(argument.value, ast.Constant)
                and argument.value.value is True
                for argument in node.keywords
            )
            if inplace or node.func.attr in _MUTATING_METHODS:
                base(node.func.value)
    return list(dict.fromkeys(found))


# Methods that change the object they are called on (lists, dicts, sets, DataFrames).
_MUTATING_METHODS = frozenset(
    "append extend insert pop remove clear sort reverse update setdefault popitem add discard "
    "fit partial_fit set_params".split()
)
