// Package amqp is the AMQP 0-9-1 dissector (RabbitMQ and compatible
// brokers): frames, methods with their arguments and field tables, and
// message content (properties and a body preview).
//
// Synchronous methods become one record with their -Ok (or Get-Empty)
// reply on the same channel as the response; asynchronous ones (Publish,
// Deliver, Return, Ack, Nack, Reject, Recover-Async) are one-way records,
// emitted once their content, if any, is complete. Requests are the methods
// that are not replies, whichever side sends them: Connection.Start and
// Connection.Tune come from the broker.
package amqp
