//! A small Open311 GeoReport v2 client written from the specification, not from the engine's
//! types: form-encoded POSTs, plain GETs, and a generic XML reader for the `.xml` answers.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::Value;

/// An app talking to one Open311 endpoint.
pub struct Open311Client {
    base: String,
    http: reqwest::Client,
}

/// An answer: HTTP status, content type and body text.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header.
    pub content_type: String,
    /// Body as text.
    pub body: String,
}

impl Answer {
    /// The body parsed as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    /// The body parsed as XML (panics if it is not well-formed).
    pub fn xml(&self) -> XmlNode {
        parse_xml(&self.body)
    }
}

impl Open311Client {
    /// A client for `http://host:port` (the endpoint is `/open311/v2`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.text().await.expect("body");
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// `POST /open311/v2/requests.{format}` with a form-encoded body.
    pub async fn post_form(&self, format: &str, fields: &[(&str, &str)]) -> Answer {
        let response = self
            .http
            .post(format!("{}/open311/v2/requests.{format}", self.base))
            .form(fields)
            .send()
            .await
            .expect("POST");
        Self::answer(response).await
    }

    /// Posts a report that must be accepted (201, JSON); its `service_request_id`.
    pub async fn create(&self, fields: &[(&str, &str)]) -> String {
        let answer = self.post_form("json", fields).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.json()[0]["service_request_id"]
            .as_str()
            .expect("service_request_id")
            .to_string()
    }

    /// `POST /open311/v2/requests.{format}` with a JSON body.
    pub async fn post_json(&self, format: &str, body: &Value) -> Answer {
        let response = self
            .http
            .post(format!("{}/open311/v2/requests.{format}", self.base))
            .json(body)
            .send()
            .await
            .expect("POST");
        Self::answer(response).await
    }

    /// `GET` of a path under the server (e.g. `/open311/v2/services.json`), with query pairs.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .expect("GET");
        Self::answer(response).await
    }
}

/// One XML element: its name, its text and its child elements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct XmlNode {
    /// Element name.
    pub name: String,
    /// Text content (unescaped).
    pub text: String,
    /// Child elements in order.
    pub children: Vec<XmlNode>,
}

impl XmlNode {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&XmlNode> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child named `name` (empty if absent).
    pub fn text_of(&self, name: &str) -> String {
        self.child(name).map(|c| c.text.clone()).unwrap_or_default()
    }
}

/// Parses a document into its root element; panics on malformed XML.
pub fn parse_xml(text: &str) -> XmlNode {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<XmlNode> = vec![XmlNode::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) => stack.push(XmlNode {
                name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
                ..XmlNode::default()
            }),
            Event::Empty(empty) => {
                let node = XmlNode {
                    name: String::from_utf8_lossy(empty.name().as_ref()).into_owned(),
                    ..XmlNode::default()
                };
                stack.last_mut().expect("parent").children.push(node);
            }
            Event::Text(text) => {
                let decoded = text.xml_content().expect("text").into_owned();
                stack.last_mut().expect("element").text.push_str(&decoded);
            }
            Event::GeneralRef(reference) => {
                let name = String::from_utf8_lossy(&reference).into_owned();
                let resolved = match name.as_str() {
                    "amp" => "&".to_string(),
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    other => {
                        let code = other
                            .strip_prefix("#x")
                            .map(|hex| u32::from_str_radix(hex, 16))
                            .or_else(|| other.strip_prefix('#').map(str::parse::<u32>))
                            .and_then(Result::ok)
                            .and_then(char::from_u32)
                            .unwrap_or_else(|| panic!("unknown entity &{other};"));
                        code.to_string()
                    }
                };
                stack.last_mut().expect("element").text.push_str(&resolved);
            }
            Event::End(_) => {
                let node = stack.pop().expect("open element");
                stack.last_mut().expect("parent").children.push(node);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut document = stack.pop().expect("document");
    assert!(stack.is_empty(), "unclosed elements");
    assert_eq!(document.children.len(), 1, "one root element");
    document.children.remove(0)
}
