# tessera_control_dataplane: the control plane's actual-state half: the process launcher, the
# supervisor/reconciler that runs replica processes (and implements DeploymentWaiter), and the
# autoscaler loop. Included from src/control/CMakeLists.txt; kept apart from tessera_control so it
# can link the HTTP client (replica health and status) without the registry core needing it.
add_library(tessera_control_dataplane
  ${CMAKE_CURRENT_LIST_DIR}/process_launcher.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_stats.cc
  ${CMAKE_CURRENT_LIST_DIR}/replica_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/replica_prober.cc
  ${CMAKE_CURRENT_LIST_DIR}/socket_dir.cc
  ${CMAKE_CURRENT_LIST_DIR}/supervisor.cc
  ${CMAKE_CURRENT_LIST_DIR}/replica_leftovers.cc
  ${CMAKE_CURRENT_LIST_DIR}/autoscaler_loop.cc
)
target_link_libraries(tessera_control_dataplane PUBLIC tessera_control tessera_replica_client tessera_http tessera_common)
tessera_warnings(tessera_control_dataplane)
