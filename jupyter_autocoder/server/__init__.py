"""The jupyter_server extension: REST handlers under `<base_url>/autocoder/api/`."""
