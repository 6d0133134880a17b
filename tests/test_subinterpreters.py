"""The engine in a sub-interpreter: an engine of its own, and no main thread.

The engine keeps all its state in module state, so a sub-interpreter that
imports it gets its own records and reloads its own modules, while the main
interpreter's engine goes on as before.  call_on_main_thread() is refused
there: CPython runs pending calls in the main interpreter, where the
callable's objects do not belong.  The sub-interpreter shares the main GIL
(_testcapi.run_in_subinterp), in a fresh process.
"""
import json
import textwrap

import pytest

pytest.importorskip("_testcapi")

# Runs inside the sub-interpreter (ROOT and RESULT given), which writes what
# it saw to RESULT as JSON.
SUB = textwrap.dedent("""\
    import json, os, sys
    import hotreload
    sys.path.insert(0, ROOT)
    hotreload.install()
    path = os.path.join(ROOT, "in_sub.py")
    with open(path, "w") as f:
        f.write("def answer():\\n    return 1\\n")
    import in_sub
    before = in_sub.answer
    with open(path, "w") as f:
        f.write("def answer():\\n    return 22\\n")
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

MAIN = """
    import json, _testcapi
    write("in_main", "def answer():\\n    return 10\\n")
    import in_main
    result = os.path.join(ROOT, "sub.json")
    status = _testcapi.run_in_subinterp("ROOT = %r\\nRESULT = %r\\n" % (ROOT, result) + SUB)
    write("in_main", "def answer():\\n    return 20\\n")
    hotreload.reload(in_main)
    with open(result) as f:
        sub = json.load(f)
    print(json.dumps({"status": status, "main": in_main.answer(), "sub": sub,
                      "main_records": sorted(n for n in hotreload.recorded()
                                             if n.startswith("in_"))}))
"""


def test_a_sub_interpreter_has_an_engine_of_its_own(isolated):
    seen = json.loads(isolated("SUB = %r\n" % SUB + textwrap.dedent(MAIN)).splitlines()[-1])
    assert seen["status"] == 0
    sub = seen["sub"]
    # The sub-interpreter's reload kept the function and gave it new code.
    assert sub["same"] is True
    assert sub["value"] == 22
    assert sub["updated"] == ["in_sub.answer"]
    assert sub["recorded"] is True
    assert "main interpreter only" in sub["refused"]
    # The main interpreter's engine never saw the sub-interpreter's module.
    assert seen["main"] == 20
    assert seen["main_records"] == ["in_main"]
