import pytest

from batchrelay.lifecycle.final_status import final_status
from batchrelay.models.job import JobStatus, RequestCounts


@pytest.mark.parametrize(
    ("counts", "cancel", "expected"),
    [
        (RequestCounts(succeeded=5), False, JobStatus.COMPLETED),
        (RequestCounts(succeeded=4, errored=1), False, JobStatus.COMPLETED_WITH_ERRORS),
        (RequestCounts(succeeded=4, expired=1), False, JobStatus.COMPLETED_WITH_ERRORS),
        (RequestCounts(expired=5), False, JobStatus.EXPIRED),
        (RequestCounts(expired=4, errored=1), False, JobStatus.FAILED),
        (RequestCounts(errored=5), False, JobStatus.FAILED),
        (RequestCounts(succeeded=5), True, JobStatus.CANCELLED),
        (RequestCounts(succeeded=2, cancelled=3), True, JobStatus.CANCELLED),
    ],
)
def test_final_status(counts, cancel, expected):
    assert final_status(counts, cancel_requested=cancel) == expected
