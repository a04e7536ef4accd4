# tessera_serving_predict: the prediction path (PredictionService) and its protocol frontends
# (Vertex :predict/:rawPredict, TF Serving REST, KServe v2 REST, the replica status view).
# Included from src/serving/CMakeLists.txt.
add_library(tessera_serving_predict
  ${CMAKE_CURRENT_LIST_DIR}/prediction_service.cc
  ${CMAKE_CURRENT_LIST_DIR}/offload.cc
  ${CMAKE_CURRENT_LIST_DIR}/predict_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/predict_tracing.cc
  ${CMAKE_CURRENT_LIST_DIR}/payload_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/predict_context.cc
  ${CMAKE_CURRENT_LIST_DIR}/model_resolver.cc
  ${CMAKE_CURRENT_LIST_DIR}/classification.cc
  ${CMAKE_CURRENT_LIST_DIR}/vertex_predict_routes.cc
  ${CMAKE_CURRENT_LIST_DIR}/tf_serving_routes.cc
  ${CMAKE_CURRENT_LIST_DIR}/kserve_v2.cc
  ${CMAKE_CURRENT_LIST_DIR}/kserve_v2_json.cc
  ${CMAKE_CURRENT_LIST_DIR}/kserve_v2_routes.cc
  ${CMAKE_CURRENT_LIST_DIR}/replica_status_routes.cc
)
target_compile_definitions(tessera_serving_predict PRIVATE TESSERA_VERSION="${PROJECT_VERSION}")
target_link_libraries(tessera_serving_predict PUBLIC
  tessera_serving_front_door tessera_auth tessera_control_dataplane tessera_replica_client tessera_serving_rest tessera_control
  tessera_http tessera_common)
tessera_warnings(tessera_serving_predict)
target_link_libraries(tessera_serving INTERFACE tessera_serving_predict)
