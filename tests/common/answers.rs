//! The answers an earlier build gave (fixtures/databases/v2-build.answers.json, recorded by
//! make_fixture.py), and how this build's answer to the same request is compared with one.

use serde_json::{Value, json};

/// One request the earlier build answered: the company it asked as, the path under
/// `/v2/partners/{company}`, and the answer.
pub struct Answer {
    pub company: String,
    pub path: String,
    pub status: u16,
    pub body: Value,
}

pub fn recorded() -> Vec<Answer> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/databases/v2-build.answers.json"
    ))
    .unwrap();
    let answers: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(answers.len() > 30);
    answers
        .into_iter()
        .map(|a| Answer {
            company: a["company"].as_str().unwrap().to_owned(),
            path: a["path"].as_str().unwrap().to_owned(),
            status: a["status"].as_u64().unwrap() as u16,
            body: a["body"].clone(),
        })
        .collect()
}

/// The earlier build's server-made times had fractions of a second; this one's are whole
/// seconds (legacy clients parse them with a fixed pattern).
fn whole_seconds(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "CreatedDate" || k == "ReceivedAt" {
                    if let Some(s) = v.as_str() {
                        let trimmed = match s.find('.') {
                            Some(dot) => format!("{}Z", &s[..dot]),
                            None => s.to_owned(),
                        };
                        *v = Value::String(trimmed);
                    }
                } else {
                    whole_seconds(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_seconds),
        _ => {}
    }
}

impl Answer {
    /// Asserts that this build answered `status` and `body` as the earlier build did.
    pub fn assert_same(&self, status: u16, mut body: Value) {
        let mut expected = self.body.clone();
        whole_seconds(&mut expected);
        // A batch's detail has counted the rejections past its first 1,000 since V8: none here.
        if let Some(detail) = body.as_object_mut().filter(|b| b.contains_key("RejectedRecords")) {
            assert_eq!(detail.remove("RejectedCounts"), Some(json!([])), "{}", self.path);
            // And its warnings since V13: batches from before have none counted.
            assert_eq!(detail.remove("WarningCounts"), Some(json!([])), "{}", self.path);
            assert_eq!(detail.remove("Warnings"), Some(json!(0)), "{}", self.path);
        }
        if let Some(batches) = body.get_mut("Batches").and_then(Value::as_array_mut) {
            for batch in batches.iter_mut().filter_map(Value::as_object_mut) {
                assert_eq!(batch.remove("Warnings"), Some(json!(0)), "{}", self.path);
            }
        }
        whole_seconds(&mut body);
        assert_eq!(status, self.status, "{}{}", self.company, self.path);
        assert_eq!(body, expected, "{}{}", self.company, self.path);
    }
}
