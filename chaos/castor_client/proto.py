"""Loads the generated protobuf modules (kv_pb2, net_pb2) from the build tree."""
import os
import pathlib
import sys

_here = pathlib.Path(__file__).resolve().parent
_candidates = [os.environ.get("CASTOR_PYTHON_PROTO", ""),
               str(pathlib.Path(os.environ.get("CASTOR_BUILD_DIR", _here.parents[1] / "build")) / "python")]
for _c in _candidates:
    if _c and (pathlib.Path(_c) / "kv" / "kv_pb2.py").exists():
        if _c not in sys.path:
            sys.path.insert(0, _c)
        break
else:
    raise ImportError("castor_client: generated protobuf modules not found; build the project "
                      "(cmake --build build) or set CASTOR_PYTHON_PROTO to <build>/python")

from kv import kv_pb2  # noqa: E402,F401
from net import net_pb2  # noqa: E402,F401
