#!/usr/bin/env bash
# Regenerate the Python gRPC stubs from proto/drivesim.proto (needs grpcio-tools, a dev dependency).
#
#     scripts/gen_proto.sh              # writes drivesim/serve/proto/drivesim_pb2{,_grpc}.py{,i}
#     scripts/gen_proto.sh /tmp/stubs   # writes them elsewhere (tests compare with the committed ones)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/drivesim/serve/proto}"
python="${PYTHON:-python}"
mkdir -p "$out"

"$python" -m grpc_tools.protoc -I "$root/proto" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  "$root/proto/drivesim.proto"

# protoc writes `import drivesim_pb2` (a top-level module); the stubs live in a subpackage.
sed -i 's/^import drivesim_pb2 as /from drivesim.serve.proto import drivesim_pb2 as /' "$out/drivesim_pb2_grpc.py"
