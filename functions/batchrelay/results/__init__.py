"""Result files in S3: streamed line reading, multipart writing, pricing."""
