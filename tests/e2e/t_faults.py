"""Crash windows tested on purpose: each test arms a named fault point
(src/fault.h; a build with --enable-fault-injection) to kill or stop a
process at one exact line, then checks that the node keeps serving and
that every count is exact.  Without fault injection they are skipped."""
import json

from lib import Node, need_faults


def test_fault_endpoint_rejects_bad_arming():
    need_faults()
    n = Node().start()
    st, body = n._admin("POST", "/api/v1/admin/fault?point=x&action=boom")
    assert st == 400 and b"unknown fault action" in body
    st, body = n._admin("POST", "/api/v1/admin/fault?point=x&action=sleep")
    assert st == 400 and b"needs an argument" in body
    st, body = n._admin("POST", "/api/v1/admin/fault?point=x&action=kill"
                        "&process=nobody")
    assert st == 400 and b"unknown process" in body
    n.fault("x", "sleep:1", count=0)
    st, body = n._admin("GET", "/api/v1/admin/fault")
    assert [f["point"] for f in json.loads(body)] == ["x"]
    n.fault("x", "off")
    st, body = n._admin("GET", "/api/v1/admin/fault")
    assert json.loads(body) == []
