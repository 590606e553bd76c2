# examples/pipeline.cmake — examples of the pipeline area (included by examples/CMakeLists.txt).
