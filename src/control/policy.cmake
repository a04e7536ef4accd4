# tessera_control_policy: the pure policies of the control plane (traffic split, routing table,
# replica selection, autoscaler). Included from src/control/CMakeLists.txt; to be merged into
# tessera_control later. Depends on common only.
add_library(tessera_control_policy
  ${CMAKE_CURRENT_LIST_DIR}/autoscaler_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/autoscaling_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/replica_selection.cc
  ${CMAKE_CURRENT_LIST_DIR}/routing_table.cc
  ${CMAKE_CURRENT_LIST_DIR}/traffic_split.cc
)
target_link_libraries(tessera_control_policy PUBLIC tessera_common)
tessera_warnings(tessera_control_policy)
