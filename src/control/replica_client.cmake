# tessera_replica_client: the server's HTTP client of one replica process (control/replica_client.h).
# Its own library so that it links the HTTP client without the registry core needing it; the
# data plane (tessera_control_dataplane) links it.
add_library(tessera_replica_client ${CMAKE_CURRENT_LIST_DIR}/replica_client.cc)
target_link_libraries(tessera_replica_client PUBLIC tessera_http tessera_common)
tessera_warnings(tessera_replica_client)
