/*
Package notify delivers alert transitions (alerts.Alert) to people and
systems through notification channels: webhook, mqtt, email and log.

# Configuration

Channels are read from YAML (ParseYAML, under a top-level "channels:" key)
or JSON (ParseJSON) with strict decoding; Validate names the key at fault
("channels[2].smtp.addr: required").

	channels:
	  - name: ops-hook
	    kind: webhook                 # webhook | mqtt | email | log
	    url: https://example.com/hook
	    secret: s3cret                # signs the body (below); optional
	    min_severity: warning         # info (default) | warning | critical
	    rate_limit: {per: 1m, burst: 10}
	    retries: 5                    # default 5; 0 disables retries
	    timeout: 10s                  # per attempt, default 10s
	    concurrency: 4                # deliveries under way at once, default 4
	  - name: bus
	    kind: mqtt
	    topic: "alerts/{severity}/{rule}/{device}"   # also {state}
	    qos: 1
	  - name: mail
	    kind: email
	    smtp: {addr: "smtp.example.com:587", from: "edge@example.com",
	           to: ["ops@example.com"], username: u, password: p}
	  - name: journal
	    kind: log

# Delivery

Dispatcher.Notify never blocks: each channel has a bounded queue that one
goroutine takes alerts from. A full queue drops the alert for that channel,
counted (queue_dropped) and logged once per burst with the number dropped.
Alerts below a channel's min_severity are not queued for it.

Up to concurrency deliveries of a channel are under way at once, each with
its own retries, so an endpoint that is slow to answer one alert, or a
delivery waiting out its backoff, does not hold up the alerts behind it
(one at a time, an alert failing with the default retries would keep the
channel busy for its 15 to 31 s of backoff). The transitions of one alert (the
same ID) are still delivered one after another in the order notified: a
resolution waits for its trigger's delivery, retries included. Transitions
waiting so count against the queue's bound like queued alerts. Different
alerts may therefore arrive out of the order they were notified in;
concurrency 1 keeps the channel's whole order.

A channel with a rate_limit has a token bucket of burst tokens refilled at
burst per "per". An alert that finds the bucket empty is not sent on its
own: it is counted (rate_limited) and folded into a summary, a synthetic
alert with Rule SummaryRule, Key the channel name, the highest severity of
the alerts it stands for, and a message giving their number, rules and time
span. The summary goes out, through the same channel, as soon as a token is
free again.

A failed attempt is retried, up to retries times, after an exponential
backoff (1 s doubling up to 5 min, each wait drawn between half and all of
it) on network errors, timeouts, HTTP 5xx and 429 (whose Retry-After is
honoured, within the same cap) and transient SMTP replies (4xx). Other HTTP
4xx and permanent SMTP replies (5xx) are not retried. A delivery that still
fails is counted as failed, with its error in Status.

# Health

Dispatcher.Status reports per channel, for the REST API: delivered, failed,
rate_limited and queue_dropped counts, the last error and its time, the
number of consecutive failed deliveries and a state, "failing" from a failed
delivery until the next successful one, else "ok". The same outcomes are
counted in edgevault_notifications_total{channel,outcome}.

edgevault_notification_latency_seconds{channel} is a histogram of the time
from an alert transition's cause to its delivery, retries included:
NotifySince takes the cause's time (the edge node passes the moment it
received the reading that set the alert off, or for a transition that
time or a call caused, the transition itself); Notify takes now. This is
the publish-to-notification latency the node can see, from ingest on.

Close stops accepting alerts (later ones count as queue_dropped), lets the
queues drain for up to Options.CloseTimeout, then cancels webhook and email
attempts under way and counts what is still queued as queue_dropped.

# Wire formats

webhook: POST of the alert's JSON (alerts.Alert.MarshalJSON) with
Content-Type application/json and the headers

	X-Edgevault-Event:     alert | summary
	X-Edgevault-Timestamp: Unix seconds of the attempt
	X-Edgevault-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>

The signature is sent only when the channel has a secret; the body carries
the alert's own times, so a receiver can reject stale or replayed alerts.

mqtt: the alert's JSON published through Options.Publish, not retained, at
the channel's qos, on the topic template with {rule} {device} {severity}
{state} replaced; characters that MQTT reserves in topics (/ + # and NUL)
inside the values become "_".

email: a text/plain UTF-8 message over SMTP (net/smtp), using STARTTLS when
the server offers it and PLAIN authentication when a username is set (which
net/smtp allows only over TLS or to localhost). Header values are stripped
of CR and LF, so device names cannot inject headers.

log: one slog record per alert, at Error for critical, Warn for warning and
Info for info.
*/
package notify
