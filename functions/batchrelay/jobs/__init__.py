"""Jobs: validating input, creating jobs, uploads, reading and cancelling them."""
