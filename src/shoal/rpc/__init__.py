"""Shoal's wire protocol: the .proto contract, its generated modules, and the one place that
makes gRPC servers and channels (`channels`) and maps errors to gRPC status (`errors`).

Generated modules (`common_pb2`, `descriptor_pb2`, `admin_pb2`, `admin_pb2_grpc`,
`internal_pb2`, `internal_pb2_grpc`) are rebuilt with `make proto`; never edit them.
"""
