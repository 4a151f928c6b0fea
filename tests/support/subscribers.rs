//! Subscribers of a paging topic other than a queue: a phone (LocalStack keeps the text messages it would
//! have sent) and an HTTP endpoint (what Amazon Q Developer in chat applications or a webhook receives).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::StatusCode;
use serde_json::Value;

use super::eventually;
use super::http::{Http, Server, reply};
use super::localstack::{Aws, endpoint};

/// An HTTP endpoint subscribed to a topic: the SNS envelopes it received, in order.
pub struct Hook {
    /// Stops with the hook.
    _server: Server,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    /// The `Message` of each notification received so far (confirmation requests left out).
    pub fn messages(&self) -> Vec<String> {
        let received = self.received.lock().expect("hook lock");
        received
            .iter()
            .filter(|e| e["Type"] == "Notification")
            .filter_map(|e| e["Message"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Aws {
    /// Subscribes the phone number `number` to `topic` (SMS).
    pub async fn phone(&self, topic: &str, number: &str) {
        self.sns.subscribe().topic_arn(topic).protocol("sms").endpoint(number).send().await.expect("subscribe phone");
    }

    /// The text messages sent to `number` so far, as the phone shows them.
    pub async fn texts(&self, number: &str) -> Vec<String> {
        let answer = Http::default().get(&format!("{}/_aws/sns/sms-messages", endpoint()), None).await;
        let all: Value = serde_json::from_str(&answer.body).expect("LocalStack's SMS store is JSON");
        all["sms_messages"][number]
            .as_array()
            .map(|texts| {
                texts
                    .iter()
                    .filter_map(|t| t["Message"].as_str())
                    // LocalStack keeps a text taken from a MessageStructure=json document still quoted.
                    .map(|m| serde_json::from_str::<String>(m).unwrap_or_else(|_| m.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An HTTP endpoint subscribed to `topic`, its subscription confirmed as a real endpoint would.
    pub async fn hook(&self, topic: &str) -> Hook {
        let received = Arc::new(Mutex::new(Vec::<Value>::new()));
        let sink = Arc::clone(&received);
        let server = Server::start(
            "sns-hook",
            Arc::new(move |req| {
                let sink = Arc::clone(&sink);
                Box::pin(async move {
                    use http_body_util::BodyExt;
                    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    if let Ok(envelope) = serde_json::from_slice::<Value>(&body) {
                        sink.lock().expect("hook lock").push(envelope);
                    }
                    reply(StatusCode::OK, "")
                })
            }),
        );
        self.sns
            .subscribe()
            .topic_arn(topic)
            .protocol("http")
            .endpoint(server.url())
            .send()
            .await
            .expect("subscribe hook");
        let token = eventually("the subscription confirmation request", Duration::from_secs(30), || async {
            let received = received.lock().expect("hook lock");
            received
                .iter()
                .find(|e| e["Type"] == "SubscriptionConfirmation")
                .and_then(|e| e["Token"].as_str())
                .map(str::to_owned)
        })
        .await;
        self.sns.confirm_subscription().topic_arn(topic).token(token).send().await.expect("confirm hook");
        Hook { _server: server, received }
    }
}
