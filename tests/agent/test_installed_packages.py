"""An install the model asks for, of a package the kernel has already: nobody is asked,
nothing is run, and the model is told the version and the error it should fix instead (seen
with qwen2.5-coder-1.5b: `pip install matplotlib` for a missing `import ... as plt`)."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from jupyter_autocoder.executors import Executor


def py(code: str) -> str:
    return f"Here is the code:\n```python\n{code}\n```\n"


def test_the_kernel_tells_which_packages_are_installed(kernel):
    found = kernel.installed_versions(["pandas", "Jupyter_Server", "acw-surely-not-installed"])
    assert found == {"pandas": version("pandas"), "Jupyter_Server": version("jupyter_server")}
    assert kernel.installed_versions([]) == {}


class CountingExecutor(Executor):
    """The real kernel underneath; counts installs and shell runs."""

    def __init__(self, inner: Executor):
        self.inner = inner
        self.installs: list[list[str]] = []

    def run(self, code, timeout=None):
        return self.inner.run(code, timeout)

    def install(self, packages, options=(), timeout=600.0):
        self.installs.append(list(packages))
        return self.inner.install(packages, options, timeout)

    def defined_names(self, names):
        return self.inner.defined_names(names)

    def existing_files(self, paths):
        return self.inner.existing_files(paths)

    def installed_versions(self, distributions):
        return self.inner.installed_versions(distributions)


def test_an_installed_package_is_not_put_to_the_user_and_the_real_error_is_told(
    kernel, engine, make_session
):
    pytest.importorskip("matplotlib")
    engine.enqueue(
        py("import matplotlib\nmatplotlib.use('Agg')\nplt.plot([1, 2, 3])\nprint('plotted')"),
        "matplotlib is missing.\n```sh\npip install matplotlib\n```\n",
        py(
            "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "plt.plot([1, 2, 3])\nprint('plotted')"
        ),
    )
    asked = []
    session = make_session(
        kernel, approver=lambda request: asked.append(request) or True, install_policy="ask"
    )
    executor = session.executor = CountingExecutor(kernel)
    events = list(session.run("plot 1, 2, 3"))

    installs = [event for event in events if event.type == "install"]
    assert [event.status for event in installs] == ["present"]
    matplotlib_version = version("matplotlib")
    assert installs[0].packages == ["matplotlib"]
    assert installs[0].message == f"installed already: matplotlib {matplotlib_version}"
    assert asked == [] and executor.installs == []
    assert not [event for event in events if event.type == "approval"]

    told = engine.history[2].messages[-1]["content"]
    assert f"matplotlib {matplotlib_version} is installed already: nothing was run." in told
    assert "The error to fix is NameError: name 'plt' is not defined" in told
    assert events[-1].reason == "success" and events[-1].rounds == 3


def test_only_the_missing_packages_of_a_request_go_on_to_the_install(kernel, engine, make_session):
    engine.enqueue(
        "```sh\npip install pandas acw-not-installed-anywhere\n```\n" + py("print('done')")
    )
    session = make_session(kernel, approver=lambda request: True, install_policy="never")
    session.executor = CountingExecutor(kernel)
    events = list(session.run("print done"))
    installs = [event for event in events if event.type == "install"]
    assert [(event.status, event.packages) for event in installs] == [
        ("present", ["pandas"]),
        ("disabled", ["acw-not-installed-anywhere"]),
    ]
    assert events[-1].reason == "success"


def test_a_version_the_model_asks_for_is_not_second_guessed(kernel, engine, make_session):
    engine.enqueue("```sh\npip install pandas==0.1\n```\n" + py("print('done')"))
    session = make_session(kernel, approver=lambda request: False, install_policy="ask")
    session.executor = CountingExecutor(kernel)
    events = list(session.run("print done"))
    assert [event.status for event in events if event.type == "install"] == [
        "requested",
        "declined",
    ]
