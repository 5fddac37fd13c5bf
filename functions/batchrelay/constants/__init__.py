"""Names shared by the functions, the CDK stack, the local stack and the tests.

One source of truth: the CDK constructs create resources with these logical names and
pass the physical names to the functions through the environment variables; the local
stack creates the same resources on the emulator under the same names. Each name is
defined once, in the module of its concern, and read as ``constants.<NAME>``:

- ``service``: functions, their timeouts and environment, queues, topic, routes;
- ``environment``: the variables the functions read, and their defaults;
- ``table``: the DynamoDB single-table layout and its indexes;
- ``storage``: the S3 prefixes (the keys themselves: ``aws.s3_keys``);
- ``limits``: what one request, one job and one upload may hold;
- ``events``: the job event types;
- ``surfaces``: the drop-in OpenAI and Anthropic surfaces, and how requests authenticate.

Providers' names, endpoints and batch limits are not here: the registry has them.
"""

from batchrelay.constants.environment import *  # noqa: F403
from batchrelay.constants.events import *  # noqa: F403
from batchrelay.constants.limits import *  # noqa: F403
from batchrelay.constants.service import *  # noqa: F403
from batchrelay.constants.storage import *  # noqa: F403
from batchrelay.constants.surfaces import *  # noqa: F403
from batchrelay.constants.table import *  # noqa: F403
