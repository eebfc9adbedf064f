"""Local stand-ins for the AWS services around Mercato's functions: the EventBridge Pipe, Lambda's
Kinesis event-source mapping, the function URL's event shape, a transaction path for moto that checks
every condition before it writes, and the launcher of DynamoDB Local. None of it ships to Lambda."""
