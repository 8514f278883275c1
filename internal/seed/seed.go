// Package seed holds UniCraft's documented example payloads, byte for byte,
// for the tests of the packages that parse and sign them.
package seed

// Payloads are the example bodies from UniCraft's webhook documentation,
// byte for byte as it prints them, keyed by their "event" field.
var Payloads = map[string]string{
	"request.completed": `{
"event": "request.completed",
"timestamp": "2024-01-20T10:30:00Z",
"data": {
"request_id": "req_123456789",
"model": "gpt-3.5-turbo",
"provider": "openai",
"cost": 0.000042,
"response_time": 1250,
"tokens": {
"prompt": 50,
"completion": 25,
"total": 75
},
"user_id": "user_123",
"project_id": "proj_456"
}
}`,
	"request.failed": `{
"event": "request.failed",
"timestamp": "2024-01-20T10:30:00Z",
"data": {
"request_id": "req_123456789",
"model": "gpt-4",
"provider": "openai",
"error": {
"type": "rate_limit_exceeded",
"message": "Rate limit exceeded",
"code": "rate_limit_exceeded"
},
"retry_count": 3,
"user_id": "user_123",
"project_id": "proj_456"
}
}`,
	"cost.exceeded": `{
"event": "cost.exceeded",
"timestamp": "2024-01-20T10:30:00Z",
"data": {
"budget_id": "budget_123",
"budget_name": "Monthly AI Budget",
"current_cost": 1050.0,
"limit": 1000.0,
"excess": 50.0,
"period": "monthly",
"user_id": "user_123",
"project_id": "proj_456"
}
}`,
	"cost.daily_alert": `{
"event": "cost.daily_alert",
"timestamp": "2024-01-20T10:30:00Z",
"data": {
"date": "2024-01-20",
"daily_cost": 85.0,
"daily_limit": 100.0,
"percentage": 85.0,
"user_id": "user_123",
"project_id": "proj_456"
}
}`,
	"provider.unavailable": `{
"event": "provider.unavailable",
"timestamp": "2024-01-20T10:30:00Z",
"data": {
"provider": "openai",
"status": "unavailable",
"reason": "service_outage",
"estimated_recovery": "2024-01-20T11:00:00Z",
"affected_models": ["gpt-4", "gpt-3.5-turbo"]
}
}`,
	"provider.recovered": `{
"event": "provider.recovered",
"timestamp": "2024-01-20T11:00:00Z",
"data": {
"provider": "openai",
"status": "available",
"downtime_duration": 1800,
"affected_models": ["gpt-4", "gpt-3.5-turbo"]
}
}`,
	"error.high_rate": `{
"event": "error.high_rate",
"timestamp": "2024-01-20T10:30:00Z",
"data": {
"error_rate": 0.15,
"threshold": 0.1,
"time_window": "5m",
"provider": "openai",
"model": "gpt-4",
"error_types": [
{
"type": "rate_limit_exceeded",
"count": 25
},
{
"type": "invalid_request",
"count": 10
}
]
}
}`,
}
