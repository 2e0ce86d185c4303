# The Jupyter server of the browser tests that use the scripted model double: a
# ScriptedEngine in this process answers from scripts.json (see scripted_replies.py),
# reached as a remote OpenAI-compatible engine, the way any engine URL is.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jupyter_server_common import configure
from scripted_replies import start_engine

c = get_config()  # noqa: F821
configure(c, "AUTOCODER_UI_SCRIPTED_PORT", 18932)
engine = start_engine()
c.AutoCoder.engine_url = engine.base_url
c.AutoCoder.api_key = engine.api_key
c.AutoCoder.model = "scripted"
# What the double was asked, for the tests (GET /autocoder-test/scripted/requests).
c.ServerApp.jpserver_extensions["scripted_history"] = True
