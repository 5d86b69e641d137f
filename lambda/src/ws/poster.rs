//! Sending to a client through API Gateway: the [`Poster`] port and its adapter over the
//! management API (`POST /@connections/{id}`, `DELETE /@connections/{id}`).

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;

#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// 410 GoneException: the client is gone; its record should go too.
    #[error("connection is gone")]
    Gone,
    #[error("post failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Poster: Send + Sync {
    /// Sends one message (one protocol frame) to the connection.
    async fn post(&self, connection_id: &str, data: &str) -> Result<(), PostError>;
    /// Closes the connection. API Gateway then invokes `$disconnect`.
    async fn close(&self, connection_id: &str) -> Result<(), PostError>;
}

/// The management API of one WebSocket API stage.
#[derive(Debug, Clone)]
pub struct ApiGatewayPoster {
    client: Client,
}

impl ApiGatewayPoster {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client for the stage's connections endpoint
    /// (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`), credentials and region
    /// from the environment.
    pub async fn from_env(endpoint: &str) -> Self {
        let shared = aws_config::load_from_env().await;
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(&shared)
            .endpoint_url(endpoint)
            .build();
        Self::new(Client::from_conf(config))
    }
}

/// 410 is GoneException whatever the error body says; the rest is a failure to log.
fn classify<E>(error: SdkError<E, HttpResponse>) -> PostError
where
    E: std::error::Error + Send + Sync + 'static,
{
    if error.raw_response().map(|r| r.status().as_u16()) == Some(410) {
        return PostError::Gone;
    }
    PostError::Failed(DisplayErrorContext(error).to_string())
}

#[async_trait]
impl Poster for ApiGatewayPoster {
    async fn post(&self, connection_id: &str, data: &str) -> Result<(), PostError> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data.as_bytes()))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        self.client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}
