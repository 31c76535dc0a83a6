"""The smallest function: echo who to greet."""


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"greeting {name} from {context.function_name}")
    return {"message": f"Hello, {name}!", "request_id": context.aws_request_id}
