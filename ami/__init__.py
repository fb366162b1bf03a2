"""AMI: LeCun's Autonomous Machine Intelligence architecture as a working agent.

Importing ``ami`` registers the built-in module classes.
"""

import ami.actor  # noqa: F401
import ami.configurator  # noqa: F401
import ami.cost  # noqa: F401
import ami.memory  # noqa: F401
import ami.perception  # noqa: F401
import ami.world_model  # noqa: F401

__version__ = "0.1.0"
