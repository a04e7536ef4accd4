-- wrk script for bench/serve_bench.sh: POSTs the request body in $BODY_FILE (a Vertex :predict
-- JSON with one base64 image) and counts non-200 answers.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
