"""Whether a package name is the one the model meant: what the index knows of it, and whether
it is a near miss of a popular name (`reqeusts` for `requests`, a classic typosquat).

    review = review_names(["reqeusts"], PyPIIndex())
    review.warning   # "`reqeusts` is not `requests` ... PyPI does not know `reqeusts` ..."
    review.about     # what the index says of the names it knows: version and summary

The near-miss check needs no network. The index is asked through PyPI's JSON API
(`GET <url>/<name>/json`), with a short timeout and a cache; an index that cannot be reached
changes nothing but the `about` line. The session is handed an index (any object with
`lookup(name) -> PackageInfo`), so that tests and air-gapped machines choose their own.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlsplit

from .packages import requirement_name

log = logging.getLogger(__name__)

PYPI_JSON_URL = "https://pypi.org/pypi"

# Names people install in notebooks most often, written by hand (no list is downloaded): the
# near-miss check compares a name with these. A name here is never itself a near miss.
POPULAR_NAMES = frozenset(
    """
    aiohttp altair anyio appdirs arrow astropy attrs autopep8 awscli beautifulsoup4 biopython
    black bokeh boto3 botocore cachetools catboost category-encoders certifi cffi chardet
    charset-normalizer click cloudpickle colorama cryptography cython dash dask datasets
    dateparser decorator dill discord-py distributed django dnspython docopt docutils duckdb
    einops fastapi faiss-cpu filelock flake8 flask fsspec gdal gensim geopandas gitpython
    google-auth google-auth-oauthlib gradio graphviz greenlet grpcio gunicorn h5py httpx
    huggingface-hub hypothesis idna imageio imbalanced-learn importlib-metadata iniconfig
    ipykernel ipython ipywidgets isort jax jaxlib jinja2 joblib jsonschema jupyter jupyterlab
    keras kafka-python langchain levenshtein lightgbm llama-cpp-python lxml markdown
    markupsafe matplotlib mlflow more-itertools mypy mysqlclient narwhals nbconvert nbformat
    networkx nltk notebook numba numexpr numpy onnx onnxruntime openai opencv-python
    openpyxl optuna orjson packaging pandas pandas-datareader paramiko pathlib2 patsy pendulum
    pexpect pillow pip platformdirs plotly pluggy polars prompt-toolkit prophet protobuf
    psutil psycopg2 psycopg2-binary py pyarrow pyasn1 pycairo pycparser pycryptodome
    pydantic pyflakes pygments pyjwt pylint pymongo pymupdf pymysql pyopengl pyopenssl
    pyparsing pyproj pyserial pyspark pytest python-dateutil python-docx python-dotenv
    python-jose python-magic python-multipart python-pptx python-slugify python-snappy
    pytorch-lightning pytz pyusb pywin32 pyyaml pyzmq redis regex requests requests-oauthlib
    rich rsa ruamel-yaml ruff s3fs scikit-image scikit-learn scipy scrapy seaborn selenium
    sentence-transformers setuptools shapely simplejson six sklearn-pandas smart-open
    snowflake-connector-python spacy sqlalchemy statsmodels streamlit sympy tables tabulate
    tensorboard tensorflow tensorflow-datasets termcolor textblob tiktoken tokenizers toml
    tomli torch torchaudio torchvision tornado tqdm traitlets transformers typer
    typing-extensions tzdata ujson umap-learn urllib3 uvicorn virtualenv websocket-client
    websockets werkzeug wheel wrapt xarray xgboost xlrd xlsxwriter yarl zipp
    """.split()
)


def canonical_name(name: str) -> str:
    """PEP 503's form of a name: pip, PyPI and this check treat `Ruamel_YAML` as `ruamel-yaml`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def near_popular(name: str) -> str | None:
    """The popular name that `name` is one or two edits from (None when it is popular itself,
    short, or far from every popular name). Two edits are allowed from nine characters on."""
    key = canonical_name(requirement_name(name))
    if key in POPULAR_NAMES or len(key) < 4:
        return None
    limit = 1 if len(key) < 9 else 2
    close = [
        (_edit_distance(key, popular, limit), popular)
        for popular in POPULAR_NAMES
        if abs(len(popular) - len(key)) <= limit
    ]
    near = sorted(item for item in close if item[0] <= limit)
    return near[0][1] if near else None


def _edit_distance(first: str, second: str, limit: int) -> int:
    """Edits (insert, delete, replace, swap two neighbours) from one name to the other; any
    value over `limit` comes back as limit + 1."""
    previous_row: list[int] | None = None
    row = list(range(len(second) + 1))
    for i in range(1, len(first) + 1):
        earlier, previous_row, row = previous_row, row, [i] + [0] * len(second)
        for j in range(1, len(second) + 1):
            cost = first[i - 1] != second[j - 1]
            row[j] = min(previous_row[j] + 1, row[j - 1] + 1, previous_row[j - 1] + cost)
            if (
                earlier is not None
                and j > 1
                and first[i - 1] == second[j - 2]
                and first[i - 2] == second[j - 1]
            ):
                row[j] = min(row[j], earlier[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
    return min(row[-1], limit + 1)


@dataclass(frozen=True)
class PackageInfo:
    """What an index said of one name: `known` True (with its latest version and summary),
    False (no such project), or None (the index could not be asked; `problem` says why)."""

    name: str
    known: bool | None
    version: str = ""
    summary: str = ""
    problem: str = ""
    index: str = "PyPI"


class PackageIndex(Protocol):
    def lookup(self, name: str) -> PackageInfo: ...


class PyPIIndex:
    """PyPI's JSON API (or a mirror's), asked with a short timeout; answers are cached for
    `ttl` seconds, and "cannot be reached" for `unreachable_ttl` (not to wait on every name)."""

    def __init__(
        self,
        url: str = PYPI_JSON_URL,
        timeout: float = 3.0,
        ttl: float = 3600.0,
        unreachable_ttl: float = 60.0,
    ):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.ttl = ttl
        self.unreachable_ttl = unreachable_ttl
        host = urlsplit(self.url).hostname or self.url
        self.label = "PyPI" if host == "pypi.org" else host
        self._cache: dict[str, tuple[float, PackageInfo]] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str) -> PackageInfo:
        key = canonical_name(name)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        info = self._ask(name, key)
        ttl = self.unreachable_ttl if info.known is None else self.ttl
        with self._lock:
            self._cache[key] = (time.monotonic() + ttl, info)
        return info

    def _ask(self, name: str, key: str) -> PackageInfo:
        import httpx  # only when an install is judged: the agent loop itself imports no HTTP

        url = f"{self.url}/{quote(key, safe='')}/json"
        try:
            response = httpx.get(url, timeout=self.timeout, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            log.info("the package index %s cannot be asked about %s: %s", self.url, name, error)
            problem = f"{type(error).__name__}: {error}".rstrip(": ")
            return PackageInfo(name, None, problem=problem, index=self.label)
        if response.status_code == 404:
            return PackageInfo(name, False, index=self.label)
        if response.status_code != 200:
            problem = f"HTTP {response.status_code}"
            return PackageInfo(name, None, problem=problem, index=self.label)
        try:
            info = response.json()["info"]
            version = str(info.get("version") or "")[:50]
            summary = " ".join(str(info.get("summary") or "").split())[:200]
        except (ValueError, KeyError, TypeError, AttributeError):
            problem = "an answer that is not PyPI's JSON"
            return PackageInfo(name, None, problem=problem, index=self.label)
        return PackageInfo(name, True, version=version, summary=summary, index=self.label)


@dataclass(frozen=True)
class NameReview:
    """What the user should know before installing some names: `warning` ("" when nothing is
    odd; a warned install is never made without asking) and `about` (what the index knows)."""

    warning: str = ""
    about: str = ""


def review_names(requirements: Iterable[str], index: PackageIndex | None) -> NameReview:
    """Near misses of popular names, and what `index` (None: no index is asked) knows."""
    warnings: list[str] = []
    about: list[str] = []
    for requirement in requirements:
        name = requirement_name(requirement)
        near = near_popular(name)
        if near is not None:
            warnings.append(
                f"`{name}` is not `{near}`, the popular package whose name it nearly is: "
                "a misspelt name can be someone else's package."
            )
        info = _lookup(index, name)
        if info is None:
            continue
        if info.known is False:
            warnings.append(
                f"{info.index} does not know `{name}`: pip will fail, or take it from another "
                "index if one is configured."
            )
        elif info.known:
            summary = f": {info.summary}" if info.summary else ""
            about.append(f"{name} {info.version} on {info.index}{summary}")
        else:
            about.append(f"{info.index} could not be asked about {name} ({info.problem}).")
    return NameReview(" ".join(warnings), "\n".join(about))


def _lookup(index: PackageIndex | None, name: str) -> PackageInfo | None:
    if index is None:
        return None
    try:
        return index.lookup(name)
    except Exception:  # a broken index must not stop the approval: it only informs it
        log.exception("looking up %s in the package index failed", name)
        return None
