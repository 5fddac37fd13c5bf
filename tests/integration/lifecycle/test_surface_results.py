"""A job created through a drop-in surface gets its results in that surface's shape when it is
finalized (lifecycle/surface_results.py), streamed from results.jsonl."""

from __future__ import annotations

from batchrelay import constants as c
from batchrelay.models.job import JobStatus
from batchrelay.store import file_store
from tests.support.stored_jobs import chat_requests, read_lines, submit_job


def test_an_openai_batch_gets_an_output_file_and_an_error_file_registered_as_its_tenants(fake, driver):
    fake.outcome_for = lambda pcid, seen: "permanent" if pcid.endswith(("3", "7")) else "succeeded"
    requests = chat_requests(10)
    job = submit_job(requests, chunk_size=5, surface=c.OPENAI_SURFACE, input_file_id="file-in", tenant_id="t1")

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    output, errors = job.surface_files["output"], job.surface_files["errors"]
    assert (output.lines, errors.lines) == (8, 2)
    out_lines, err_lines = read_lines(output.key), read_lines(errors.key)
    # Successes in the output file, as OpenAI writes them; failures in the error file with the provider's answer
    assert {line["custom_id"] for line in out_lines} == {r["custom_id"] for r in requests} - {"req-00003", "req-00007"}
    assert all(line["response"]["status_code"] == 200 and line["error"] is None for line in out_lines)
    assert all(line["id"].startswith("batch_req_") for line in out_lines + err_lines)
    assert {line["custom_id"] for line in err_lines} == {"req-00003", "req-00007"}
    assert all(line["response"]["status_code"] == 400 for line in err_lines)
    # Both are files of the tenant, purpose batch_output, and nobody else's
    for kind, file in (("output", output), ("errors", errors)):
        stored = file_store.get_file("t1", file.file_id)
        assert stored is not None and stored.purpose == "batch_output" and stored.bytes == file.bytes
        assert stored.job_id == job.job_id and stored.file_id.endswith(f"-{kind}")
        assert file_store.get_file("t2", file.file_id) is None


def test_a_batch_whose_every_request_failed_has_no_output_file(fake, driver):
    fake.outcome_for = lambda pcid, seen: "permanent"
    job = submit_job(chat_requests(4), surface=c.OPENAI_SURFACE, input_file_id="file-in")

    job = driver.run_until_final(job.job_id)

    assert set(job.surface_files) == {"errors"} and job.surface_files["errors"].lines == 4


def test_an_anthropic_batch_gets_one_results_file_in_anthropics_shape(fake, driver):
    fake.outcome_for = lambda pcid, seen: "permanent" if pcid.endswith("1") else "succeeded"
    job = submit_job(chat_requests(3), surface=c.ANTHROPIC_SURFACE)

    job = driver.run_until_final(job.job_id)

    lines = {line["custom_id"]: line["result"] for line in read_lines(job.surface_files["results"].key)}
    assert lines["req-00000"]["type"] == "succeeded" and lines["req-00000"]["message"]["content"]
    assert lines["req-00001"] == {"type": "errored", "error": {"type": "error", "error": {
        "type": "api_error", "message": "permanent"}}}


def test_a_native_job_gets_no_surface_files(fake, driver):
    job = driver.run_until_final(submit_job(chat_requests(2)).job_id)
    assert job.surface_files == {}


def test_deleting_a_batchs_data_removes_its_output_files_from_the_tenants_list(fake, driver):
    from batchrelay.jobs import job_service

    fake.outcome_for = lambda pcid, seen: "permanent" if pcid.endswith("1") else "succeeded"
    job = driver.run_until_final(
        submit_job(chat_requests(3), surface=c.OPENAI_SURFACE, input_file_id="file-in", tenant_id="t1").job_id)
    file_ids = [f.file_id for f in job.surface_files.values()]
    assert len(file_ids) == 2 and all(file_store.get_file("t1", f) for f in file_ids)

    _, done = job_service.delete_job("t1", job.job_id)

    assert done
    assert [file_store.get_file("t1", f) for f in file_ids] == [None, None]
