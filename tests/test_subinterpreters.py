"""The engine in a sub-interpreter: an engine of its own, and no main thread.

The engine keeps all its state in module state, so a sub-interpreter that
imports it gets its own records and reloads its own modules, while the main
interpreter's engine goes on as before.  call_on_main_thread() is refused
there: CPython runs pending calls in the main interpreter, where the
callable's objects do not belong.  Run in a child process, through
_testcapi.run_in_subinterp (a sub-interpreter sharing the main GIL).
"""
import json
import subprocess
import sys
import textwrap

import pytest

_testcapi = pytest.importorskip("_testcapi")

# Runs inside the sub-interpreter; writes what it saw to RESULT as JSON.
SUB = textwrap.dedent("""\
    import json, os, sys
    import hotreload
    sys.path.insert(0, FOLDER)
    hotreload.install()
    path = os.path.join(FOLDER, "in_sub.py")
    with open(path, "w") as f:
        f.write("def answer():\\n    return 1\\n")
    import in_sub
    before = in_sub.answer
    with open(path, "w") as f:
        f.write("def answer():\\n    return 2\\n")
    report = hotreload.reload(in_sub)
    try:
        hotreload.call_on_main_thread(print)
        refused = None
    except RuntimeError as error:
        refused = str(error)
    with open(RESULT, "w") as f:
        json.dump({"same": in_sub.answer is before, "value": before(),
                   "updated": list(report.updated), "refused": refused,
                   "recorded": "in_sub" in hotreload.recorded()}, f)
""")

MAIN = textwrap.dedent("""\
    import json, os, sys
    import _testcapi
    import hotreload
    folder, result = sys.argv[1], sys.argv[2]
    sys.path.insert(0, folder)
    hotreload.install()
    path = os.path.join(folder, "in_main.py")
    with open(path, "w") as f:
        f.write("def answer():\\n    return 10\\n")
    import in_main
    code = "FOLDER = %r\\nRESULT = %r\\n" % (folder, result) + SUB
    status = _testcapi.run_in_subinterp(code)
    with open(path, "w") as f:
        f.write("def answer():\\n    return 20\\n")
    hotreload.reload(in_main)
    print(json.dumps({"status": status, "main": in_main.answer(),
                      "main_records": sorted(n for n in hotreload.recorded()
                                             if n.startswith("in_"))}))
""")


def test_a_sub_interpreter_has_an_engine_of_its_own(tmp_path):
    result = tmp_path / "sub.json"
    script = "SUB = %r\n" % SUB + MAIN
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(result)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    main = json.loads(proc.stdout.strip().splitlines()[-1])
    assert main["status"] == 0, proc.stderr
    sub = json.loads(result.read_text())
    # The sub-interpreter's reload kept the function and gave it new code.
    assert sub["same"] is True
    assert sub["value"] == 2
    assert sub["updated"] == ["in_sub.answer"]
    assert sub["recorded"] is True
    assert "main interpreter only" in sub["refused"]
    # The main interpreter's engine never saw the sub-interpreter's module.
    assert main["main"] == 20
    assert main["main_records"] == ["in_main"]
