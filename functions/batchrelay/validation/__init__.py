"""What a job's requests must be: the rules every request passes, inline or uploaded.

- ``request_rules``: one request (its id, its body, its model), the job's metadata and
  chunk size, and the models a job may name;
- ``writable_json``: whether a body can be written unchanged the way the lifecycle writes it;
- ``upload_lines``: one line of an uploaded JSONL file;
- ``duplicate_ids``: a repeated custom_id among millions, found in steps with bounded memory.

The API checks inline requests with these in the request; the lifecycle checks uploaded
files with them in the background (``lifecycle.input_validation``).
"""
