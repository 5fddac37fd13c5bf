"""A deterministic simulation of the batch lifecycle (issue 9), in the spirit of
FoundationDB's simulation testing: one seed drives tenants, the submitter, poller,
collector, OpenAI fast path and API cancels over the table, the bucket, the queues and the
provider simulator, with faults, and then the invariants are checked.

Layout (each module's docstring has the details):
- ``fake_aws/``: DynamoDB, S3, SQS, SNS and KMS in memory, answering botocore at ``before-send``
  (boto3's own serialization, retries and error parsing stay in the loop). Contract suites
  run the same cases against moto and the fakes (``test_fake_*_contract.py``).
- ``scheduler.py``: invocations as threads that take turns (baton passing), a virtual
  clock, crash points (``submitter#3:dynamodb.TransactWriteItems:after``), Lambda timeouts.
- ``provider_gate.py``: every provider SDK call (httpx2's transport) becomes a checkpoint
  and may fail: 429/5xx/529, connection refused, timeouts, 401/403, ambiguous creates.
  Amazon Bedrock is boto3: its calls come through ``before-send`` and ``World._bedrock_call``
  makes them checkpoints with the same faults (and quota refusals of its creates); its
  EventBridge events reach the fast path as OpenAI's webhooks do.
- ``faults.py``: all fault decisions from the seed; ``scenario.py``: what a seed simulates
  (tenants with colliding custom_ids and unique bodies, same-size chunks, cancels, the
  fault mix); ``scenarios.py``: named scenarios, one per issue-9 defect.
- ``world.py``: one run: the seams installed and restored, Lambda's event sources
  (visibility, receive counts, DLQ), the poller's schedule, OpenAI's webhooks, the clients.
- ``invariants.py``: the checks, from the results and the simulator's ledger
  (tools/batchrelay_tools/simulator/ledger.py); ``entry_points.py``: the only module that
  names batchrelay's functions.
- Tests: ``test_seeds.py`` (fixed + regression seeds, regression_seeds.py),
  ``test_defect_scenarios.py``, ``test_world.py`` (the harness on its own).
  ``bench/simulate.py --seeds N`` runs many seeds in processes.

Replaying a failure: ``python bench/simulate.py --seeds 1 --start SEED --log`` prints the
broken invariants and the run's log (every fault that fired, every invocation and its
outcome, in virtual seconds). A seed replays exactly, in any process (tested).

What the simulation does not model (so it cannot find bugs there): an InvokeModel answer lost
after Bedrock ran the call (a crash right after it, a timeout or dropped connection after
applying it: such a call is made again and paid twice, the one documented exception), eventually consistent
index reads (the fake's GSIs are read-your-writes), S3 and SNS faults (only DynamoDB
throttling among AWS's own errors), parameter validation differences between boto3 and
the fakes (boto3 validates as usual), the webhooks function, uploads (jobs are inline), and
crash points or timeouts inside an invocation's own helper threads (the poller's thread
pool: its provider calls run concurrently, with 429/5xx/connection faults and outages
decided by a hash, so that thread order cannot change them).

Keep in step with the code: ``World._min_due`` skips poller ticks while nothing in the
due-chunks index is due (then a poller run changes nothing, so skipping it is exact); a
safety net that does not live in that index needs its own look there. ``Scenario.stall_window``
(3 h) must outlast the longest safety-net period, or a run waiting on one is called stuck;
the world stretches it to outlast the longest batch too (``World.stall_window``).
"""
