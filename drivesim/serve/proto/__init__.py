"""Generated gRPC stubs for proto/drivesim.proto (package drivesim.v1). Do not edit: run scripts/gen_proto.sh."""
