"""castor_client: a Python client for Castor's wire protocol.

    from castor_client import Client, Outcome, Watch
    endpoints = ["127.0.0.1:2379", "127.0.0.1:22379", "127.0.0.1:32379"]
    c = Client(endpoints)
    r = c.put(b"models/fraud/serving", b"v7")
    assert r.outcome is Outcome.OK

    w = Watch(endpoints, b"models/", prefix=True)  # from now; start_revision=R for after R
    for event in w.next(timeout_s=1.0):            # whole revisions, in order, each once
        print(event.type, event.kv.key, event.kv.value, event.kv.mod_revision)

The protobuf classes are generated from kv/kv.proto and net/net.proto at build time into
<build>/python (see kv/CMakeLists.txt); this package finds them through $CASTOR_PYTHON_PROTO, or
in build/python next to the source tree.
"""
from castor_client.client import Client, Outcome, Result  # noqa: F401
from castor_client.watch import Watch, WatchCompacted, WatchFailed  # noqa: F401
