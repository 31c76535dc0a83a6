"""Warm reuse made visible: a global and a file in /tmp survive between invokes of one
environment, and start again in a new one."""

import os

COUNT = 0


def handler(event, context):
    global COUNT
    COUNT += 1
    marker = "/tmp/ember-counter-" + os.environ["AWS_LAMBDA_LOG_STREAM_NAME"].replace("/", "_")
    with open(marker, "a") as f:
        f.write("x")
    with open(marker) as f:
        tmp_count = len(f.read())
    return {"invocations_in_this_environment": COUNT, "tmp_file_length": tmp_count}
