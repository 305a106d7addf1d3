{
  "targets": [
    {
      "target_name": "resumable_hash",
      "sources": ["resumable_hash.c"],
      "cflags": ["-O2", "-Wall", "-Wno-deprecated-declarations"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
