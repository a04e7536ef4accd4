# tessera_serving_predict: the prediction path (PredictionService) and its protocol frontends
# (Vertex :predict/:rawPredict, the replica status view). Included from src/serving/CMakeLists.txt.
add_library(tessera_serving_predict
  ${CMAKE_CURRENT_LIST_DIR}/prediction_service.cc
  ${CMAKE_CURRENT_LIST_DIR}/vertex_predict_routes.cc
  ${CMAKE_CURRENT_LIST_DIR}/replica_status_routes.cc
)
target_link_libraries(tessera_serving_predict PUBLIC
  tessera_control_dataplane tessera_replica_client tessera_serving_rest tessera_control
  tessera_http tessera_common)
tessera_warnings(tessera_serving_predict)
target_link_libraries(tessera_serving INTERFACE tessera_serving_predict)
