"""Package installs: from a missing module to the right distribution, and strict validation.

Nothing the model writes reaches a shell: a `pip install` line is split into arguments,
every argument must be a PEP 508 name with an optional version specifier (or a harmless
flag, which is dropped), and the install runs pip with an argument list. What pip would take
for something else (a file, a URL, a path, a VCS link, an option, a marker) is refused with a
message that says which. Whether a valid name is the package the model meant is
`package_index.py`'s question.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field

from ..errors import InvalidRequirementError

# Import name -> distribution name, where they differ (or where the obvious guess is wrong).
MODULE_TO_DISTRIBUTION: dict[str, str] = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "bs4": "beautifulsoup4",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "mpl_toolkits": "matplotlib",
    "pylab": "matplotlib",
    "imblearn": "imbalanced-learn",
    "umap": "umap-learn",
    "Bio": "biopython",
    "Crypto": "pycryptodome",
    "OpenSSL": "pyopenssl",
    "attr": "attrs",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "fitz": "pymupdf",
    "serial": "pyserial",
    "usb": "pyusb",
    "jwt": "pyjwt",
    "git": "gitpython",
    "zmq": "pyzmq",
    "dns": "dnspython",
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "magic": "python-magic",
    "slugify": "python-slugify",
    "multipart": "python-multipart",
    "jose": "python-jose",
    "socketio": "python-socketio",
    "engineio": "python-engineio",
    "kafka": "kafka-python",
    "ldap": "python-ldap",
    "Levenshtein": "levenshtein",
    "community": "python-louvain",
    "faiss": "faiss-cpu",
    "fbprophet": "prophet",
    "talib": "ta-lib",
    "osgeo": "gdal",
    "cairo": "pycairo",
    "OpenGL": "pyopengl",
    "gi": "pygobject",
    "wx": "wxpython",
    "win32api": "pywin32",
    "win32con": "pywin32",
    "pkg_resources": "setuptools",
    "ruamel": "ruamel.yaml",
    "snappy": "python-snappy",
    "sentence_transformers": "sentence-transformers",
    "category_encoders": "category-encoders",
    "pandas_datareader": "pandas-datareader",
    "google_auth_oauthlib": "google-auth-oauthlib",
    "tensorflow_datasets": "tensorflow-datasets",
    "statsmodels": "statsmodels",
    "IPython": "ipython",
    "telegram": "python-telegram-bot",
    "discord": "discord.py",
    "markdown": "markdown",
    "docopt": "docopt",
    "tables": "tables",
    "netCDF4": "netcdf4",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "torch": "torch",
    "torchvision": "torchvision",
    "sqlalchemy": "sqlalchemy",
}

# PEP 508 name: letters/digits, with ., _ and - inside.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = rf"\[\s*{_NAME}(?:\s*,\s*{_NAME})*\s*\]"
_VERSION = r"[A-Za-z0-9.*+!_-]+"
_SPECIFIER = rf"(?:===|==|!=|<=|>=|~=|<|>)\s*{_VERSION}"
_REQUIREMENT = re.compile(
    rf"^(?P<name>{_NAME})(?P<extras>{_EXTRAS})?(?:\s*{_SPECIFIER}(?:\s*,\s*{_SPECIFIER})*)?$"
)

# Flags a model often adds that change nothing we care about; they are dropped, not passed on.
HARMLESS_FLAGS = frozenset(
    {"-q", "-qq", "-qqq", "--quiet", "-U", "--upgrade", "--no-cache-dir", "-v", "--verbose"}
)

PIP_PROGRAMS = ("pip", "pip3")
PYTHON_PROGRAMS = re.compile(r"^python(?:3(?:\.\d+)?)?$")

# pip installs an argument with one of these endings as a local file, whatever its name.
ARCHIVE_SUFFIXES = (
    ".whl",
    ".zip",
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tar.lz",
    ".tlz",
    ".egg",
)
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+", "git@")
_SHELL_CHARACTERS = re.compile(r"[&|$`(){}\n'\"]")


def validate_requirement(text: str) -> str:
    """Return the requirement (a PEP 508 name, optional extras and version specifiers) or raise
    an `InvalidRequirementError` that says what the text is instead: an option, a VCS link, a
    URL, an environment marker, shell characters, a file name or a path."""
    if not isinstance(text, str):
        raise InvalidRequirementError(f"not a string: {text!r}")
    candidate = text.strip()
    if not candidate or len(candidate) > 200:
        raise InvalidRequirementError(f"not a package name: {text!r}")
    problem = _not_a_name(candidate)
    if problem:
        raise InvalidRequirementError(f"{candidate!r} is {problem}")
    if not _REQUIREMENT.match(candidate):
        raise InvalidRequirementError(f"not a package name with an optional version: {text!r}")
    return re.sub(r"\s+", "", candidate)


def _not_a_name(candidate: str) -> str:
    """What pip would take `candidate` for, when that is not a name from the index ("" if none)."""
    lowered = candidate.lower()
    if candidate.startswith("-"):
        return "an option: pip's options come from the configuration, never from the model"
    if lowered.startswith(_VCS_PREFIXES):
        return "a VCS link: pip would build and install whatever that repository holds"
    if "://" in candidate or lowered.startswith("file:") or "@" in candidate:
        return "a URL: pip would install whatever it points to, not a package from the index"
    if ";" in candidate:
        return "a requirement with an environment marker (or a second command after ';')"
    if _SHELL_CHARACTERS.search(candidate):
        return "not a package name: it holds shell characters"
    if lowered.endswith(ARCHIVE_SUFFIXES):
        return "a file name, not a package name: pip would install that archive from the disk"
    if candidate.startswith((".", "/", "~", "\\")) or "/" in candidate or "\\" in candidate:
        return "a path: pip would install a local folder or file, not a package from the index"
    return ""


def requirement_name(requirement: str) -> str:
    match = _REQUIREMENT.match(requirement)
    return match.group("name") if match else requirement


@dataclass
class InstallRequest:
    """One `pip install` line the model wrote, judged: what may be installed, and what not."""

    line: str
    packages: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def valid(self) -> bool:
        return bool(self.packages) and not self.rejected


def is_pip_install(line: str) -> bool:
    """Whether a shell line is meant as a pip install (valid or not)."""
    try:
        words = shlex.split(_strip_prompt(line))
    except ValueError:
        words = _strip_prompt(line).split()
    return _pip_arguments(words) is not None


def parse_pip_install(line: str) -> InstallRequest:
    """Judge one `pip install ...` line (also `python -m pip`, `%pip`, `!pip`)."""
    request = InstallRequest(line=line.strip())
    try:
        words = shlex.split(_strip_prompt(line))
    except ValueError as error:
        request.rejected.append(line.strip())
        request.reason = f"the line cannot be split into arguments ({error})"
        return request
    arguments = _pip_arguments(words)
    if arguments is None:
        request.rejected.append(line.strip())
        request.reason = "not a pip install command"
        return request
    for argument in arguments:
        if argument in HARMLESS_FLAGS:
            continue
        try:
            request.packages.append(validate_requirement(argument))
        except InvalidRequirementError as error:
            request.rejected.append(argument)
            request.reason = str(error)
    if not request.packages and not request.rejected:
        request.reason = "no package named"
    return request


def _strip_prompt(line: str) -> str:
    line = line.strip()
    for prefix in ("$ ", "!", "%"):
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return line


def _pip_arguments(words: list[str]) -> list[str] | None:
    if not words:
        return None
    if words[0] in PIP_PROGRAMS:
        rest = words[1:]
    elif PYTHON_PROGRAMS.match(words[0]) and words[1:3] == ["-m", "pip"]:
        rest = words[3:]
    else:
        return None
    if not rest or rest[0] != "install":
        return None
    return rest[1:]


def missing_module(ename: str, evalue: str) -> str | None:
    """The module a ModuleNotFoundError names, when installing something could help."""
    if ename not in ("ModuleNotFoundError", "ImportError"):
        return None
    match = re.search(r"No module named ['\"]?([A-Za-z0-9_.]+)['\"]?", evalue)
    if not match:
        return None
    module = match.group(1)
    if "." in module:
        # `import a.b` failing on `a.b` means `a` is there: a newer version or a typo, not an
        # install.
        return None
    if module.startswith("_") or module in sys.stdlib_module_names:
        return None
    return module


def distribution_for(module: str) -> str | None:
    """The PyPI distribution that provides `module` (None when it cannot be a valid name)."""
    name = MODULE_TO_DISTRIBUTION.get(module, module)
    try:
        return validate_requirement(name)
    except InvalidRequirementError:
        return None


def pip_command(packages: list[str], options: list[str] | tuple[str, ...] = ()) -> str:
    """The install as the user would type it, every argument quoted (for approval and logs)."""
    return shlex.join(["pip", "install", *options, *packages])
