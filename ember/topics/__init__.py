"""SNS topics, the part Lambda uses: topics, `lambda` and `sqs` subscriptions with filter
policies, Publish and PublishBatch.

Owns: the topic and subscription model and its durable documents (through `store`), the
query-protocol door (form-encoded `POST /`, XML answers), the message shapes subscribers
receive, and fan-out: functions through `invoke`'s asynchronous intake, queues through
the queue service (`queues`). Filter policies are `patterns`'. Must never import `api`,
`control`, `gateway` or `rules`.
"""

from ember.topics.door import TopicsDoor
from ember.topics.service import Topics

__all__ = ["Topics", "TopicsDoor"]
