"""The .proto contract and its generated modules; Shoal's wire protocol, which serves and calls
Shoal's own services (`wire`); and the gRPC side that application servers use (`channels`,
`errors`).

Generated modules (`common_pb2`, `descriptor_pb2`, `admin_pb2`, `admin_pb2_grpc`,
`internal_pb2`, `internal_pb2_grpc`) are rebuilt with `make proto`; never edit them.
"""
