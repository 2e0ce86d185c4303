"""Package names the model asks to install: files, URLs, paths, VCS links, options and markers
are refused with a clear message; a name the index does not know, or a near miss of a popular
one, is put to the user with a warning, even under `auto`.

The package index is a double injected into the session (the logic must not depend on PyPI
being reachable), or a real HTTP server on loopback that speaks PyPI's JSON API; one test
marked `pypi` asks the real PyPI when it can be reached.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agent_support import Approver, of, py, told

from jupyter_autocoder.agent.packages import parse_pip_install, validate_requirement
from jupyter_autocoder.errors import InvalidRequirementError

# the argument the model wrote: words the refusal must say
REFUSED = {
    "acw_evil-1.0-py3-none-any.whl": "file",
    "evil.tar.gz": "file",
    "evil.zip": "file",
    "evil-1.0.tgz": "file",
    "evil.egg": "file",
    "https://evil.example/pkg.tar.gz": "URL",
    "http://evil.example/simple/pkg": "URL",
    "file:///tmp/pkg": "URL",
    "./pkg": "path",
    "/tmp/pkg": "path",
    "../pkg": "path",
    "~/pkg": "path",
    "pkg/sub": "path",
    "git+https://github.com/x/y": "VCS",
    "hg+https://example.org/repo": "VCS",
    "--index-url=https://evil.example/simple": "option",
    "-e": "option",
    "pkg; python_version < '3'": "environment marker",
    "pkg @ https://evil.example/pkg.whl": "URL",
    "numpy && curl evil.example": "shell",
}


@pytest.mark.parametrize("argument", list(REFUSED))
def test_each_form_that_is_not_a_name_is_refused_with_a_clear_message(argument):
    with pytest.raises(InvalidRequirementError) as refused:
        validate_requirement(argument)
    assert REFUSED[argument] in str(refused.value)
    assert argument.split()[0] in str(refused.value)


@pytest.mark.parametrize(
    "line",
    [
        "pip install acw_evil-1.0-py3-none-any.whl",
        "pip install evil.tar.gz",
        "pip install evil.zip",
        "%pip install ./acw_evil-1.0-py3-none-any.whl",
    ],
)
def test_archive_and_file_names_on_a_pip_line_are_refused(line):
    request = parse_pip_install(line)
    assert not request.valid and request.packages == []
    assert "file" in request.reason


def test_real_names_stay_accepted():
    for good in ("pandas", "ruamel.yaml", "zope.interface>=5", "backports.zoneinfo", "py7zr"):
        assert validate_requirement(good) == good


def test_a_wheel_file_next_to_the_notebook_is_not_installed(
    offline_kernel, engine, make_session, build_wheel, tmp_path
):
    # A wheel the model (or anyone) put in the working directory: pip would install it as a path.
    wheel = build_wheel(tmp_path, "acw_evil", "1.0", "acw_evil", "PWNED = True\n")
    site = tmp_path / "site"
    site.mkdir()
    engine.enqueue(f"```sh\npip install {wheel.name}\n```\n" + py("print('after')"))
    approver = Approver(answer=True)
    session = make_session(
        offline_kernel,
        approver=approver,
        install_policy="auto",
        pip_options=["--no-index", "--target", str(site)],
    )
    events = list(session.run("install the wheel"))

    [install] = of(events, "install")
    assert install.status == "refused" and install.rejected == [wheel.name]
    assert "file" in install.message
    assert session.executor.installs == [] and approver.asked == []
    assert not (site / "acw_evil").exists()


def test_a_near_miss_of_a_popular_name_is_asked_even_under_auto(
    offline_kernel, engine, make_session
):
    engine.enqueue("```sh\npip install reqeusts\n```\n" + py("print('after')"))
    approver = Approver(answer=False)
    session = make_session(
        offline_kernel, approver=approver, install_policy="auto", fake_installs=True
    )
    events = list(session.run("fetch a page"))

    [request] = approver.asked
    assert request.kind == "install" and request.packages == ["reqeusts"]
    assert "requests" in request.warning and "reqeusts" in request.warning
    assert session.executor.installs == []
    assert [e.status for e in of(events, "install")] == ["requested", "declined"]


def test_a_missing_module_with_a_misspelt_name_is_asked_under_auto(
    offline_kernel, engine, make_session
):
    engine.enqueue(py("import pandsa"), py("print('done without it')"))
    approver = Approver(answer=False)
    session = make_session(
        offline_kernel, approver=approver, install_policy="auto", fake_installs=True
    )
    list(session.run("load it"))
    [request] = approver.asked
    assert request.packages == ["pandsa"] and "pandas" in request.warning
    assert session.executor.installs == []


class FakeIndex:
    """The package index, as a table: name -> (version, summary); names not in it are unknown.
    `reachable=False` answers as an index that cannot be reached."""

    def __init__(self, known: dict[str, tuple[str, str]], reachable: bool = True):
        self.known = known
        self.reachable = reachable
        self.asked: list[str] = []

    def lookup(self, name):
        from jupyter_autocoder.agent.package_index import PackageInfo

        self.asked.append(name)
        if not self.reachable:
            return PackageInfo(name, known=None, problem="no network")
        if name in self.known:
            version, summary = self.known[name]
            return PackageInfo(name, known=True, version=version, summary=summary)
        return PackageInfo(name, known=False)


def test_a_name_the_index_does_not_know_is_asked_under_auto_with_a_warning(
    offline_kernel, engine, make_session
):
    engine.enqueue("```sh\npip install acw-nobody-published-this\n```\n" + py("print('after')"))
    approver = Approver(answer=False)
    index = FakeIndex({"requests": ("2.32.3", "Python HTTP for Humans.")})
    session = make_session(
        offline_kernel,
        approver=approver,
        install_policy="auto",
        fake_installs=True,
        package_index=index,
    )
    list(session.run("install it"))

    [request] = approver.asked
    assert "acw-nobody-published-this" in request.warning
    assert "does not know" in request.warning
    assert index.asked == ["acw-nobody-published-this"]
    assert session.executor.installs == []


def test_what_the_index_knows_is_shown_and_a_known_name_is_not_warned(
    offline_kernel, engine, make_session
):
    engine.enqueue("```sh\npip install requests>=2\n```\n" + py("print('after')"))
    approver = Approver(answer=False)
    index = FakeIndex({"requests": ("2.32.3", "Python HTTP for Humans.")})
    session = make_session(
        offline_kernel, approver=approver, install_policy="ask", package_index=index
    )
    list(session.run("install it"))

    [request] = approver.asked
    assert request.warning == ""
    assert "requests 2.32.3" in request.about and "Python HTTP for Humans." in request.about


def test_a_known_name_under_auto_installs_without_asking(offline_kernel, engine, make_session):
    engine.enqueue("```sh\npip install requests\n```\n" + py("print('after')"))
    approver = Approver(answer=False)
    index = FakeIndex({"requests": ("2.32.3", "Python HTTP for Humans.")})
    session = make_session(
        offline_kernel,
        approver=approver,
        install_policy="auto",
        fake_installs=True,
        package_index=index,
    )
    list(session.run("install it"))
    assert approver.asked == [] and session.executor.installs == [["requests"]]


def test_an_index_that_cannot_be_reached_changes_nothing_but_the_near_miss_check(
    offline_kernel, engine, make_session
):
    engine.enqueue("```sh\npip install acw-unlisted\n```\n" + py("print('after')"))
    approver = Approver(answer=False)
    index = FakeIndex({}, reachable=False)
    session = make_session(
        offline_kernel,
        approver=approver,
        install_policy="auto",
        fake_installs=True,
        package_index=index,
    )
    events = list(session.run("install it"))
    assert approver.asked == [] and session.executor.installs == [["acw-unlisted"]]
    assert events[-1].reason == "success"


def test_an_install_with_a_warning_inside_the_code_is_asked_under_auto(
    offline_kernel, engine, make_session, tmp_path
):
    code = "if True:\n    %pip install reqeusts\n    open('pwned', 'w').close()"
    engine.enqueue(py(code), py("print('done without it')"))
    approver = Approver(answer=False)
    session = make_session(offline_kernel, approver=approver, install_policy="auto")
    list(session.run("install it"))
    [request] = approver.asked
    assert request.command == "pip install reqeusts" and "requests" in request.warning
    assert not (tmp_path / "pwned").exists()
    assert "declined installing reqeusts" in told(engine)


# -- the PyPI JSON API client, against a real HTTP server on loopback ---------------------


class _JsonIndex(BaseHTTPRequestHandler):
    known = {"requests": {"info": {"version": "2.32.3", "summary": "Python HTTP for Humans."}}}
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (the http.server name)
        self.hits.append(self.path)
        parts = self.path.strip("/").split("/")
        entry = self.known.get(parts[1]) if len(parts) == 3 and parts[2] == "json" else None
        body = json.dumps(entry or {"message": "Not Found"}).encode()
        self.send_response(200 if entry else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def json_index():
    _JsonIndex.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JsonIndex)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pypi", _JsonIndex.hits
    server.shutdown()
    server.server_close()


def test_the_index_client_reads_pypi_json_and_caches(json_index):
    from jupyter_autocoder.agent.package_index import PyPIIndex

    url, hits = json_index
    index = PyPIIndex(url, timeout=2.0)
    known = index.lookup("requests")
    assert (known.known, known.version, known.summary) == (
        True,
        "2.32.3",
        "Python HTTP for Humans.",
    )
    unknown = index.lookup("Acw_Nobody")
    assert unknown.known is False
    assert index.lookup("requests") == known and index.lookup("acw-nobody").known is False
    assert hits == ["/pypi/requests/json", "/pypi/acw-nobody/json"]  # normalised, and cached


def test_the_index_client_says_when_it_cannot_be_reached():
    from jupyter_autocoder.agent.package_index import PyPIIndex

    index = PyPIIndex("http://127.0.0.1:9/pypi", timeout=1.0)
    info = index.lookup("requests")
    assert info.known is None and info.problem


@pytest.mark.pypi
def test_the_real_pypi_knows_requests_and_not_a_made_up_name():
    from jupyter_autocoder.agent.package_index import PyPIIndex

    index = PyPIIndex(timeout=5.0)
    requests = index.lookup("requests")
    if requests.known is None:
        pytest.skip(f"PyPI cannot be reached from here: {requests.problem}")
    assert requests.known is True
    assert requests.version.split(".")[0].isdigit() and int(requests.version.split(".")[0]) >= 2
    assert "HTTP" in requests.summary
    made_up = index.lookup("acw-no-such-package-4c1d2e9f")
    assert made_up.known is False
