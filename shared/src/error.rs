//! Errors at both boundaries. [`DownstreamError`] is what a downstream call can fail with (typed,
//! detailed, for logs). [`BffError`] is what a resolver fails with: it becomes a GraphQL error with
//! a stable `extensions.code` and a message safe to show, while internal detail goes to the log.
//!
//! `BffError` deliberately does not implement `Display`: async-graphql converts any `Display` type
//! into an error with its text and no code, so keeping `Display` off forces every `?` through
//! [`From<BffError> for async_graphql::Error`], the one place that masks and codes errors.

use std::fmt;

use async_graphql::ErrorExtensions;

/// A downstream service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Users,
    Orders,
    Products,
}

impl Service {
    /// Every downstream service.
    pub const ALL: [Service; 3] = [Service::Users, Service::Orders, Service::Products];

    /// Name used in logs, metrics and `extensions.service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Users => "users",
            Service::Orders => "orders",
            Service::Products => "products",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a downstream call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DownstreamError {
    /// 404: the resource does not exist.
    #[error("{service}: not found")]
    NotFound { service: Service },
    /// 400/409/422: the service refused the request, with the contract's error code.
    #[error("{service} refused the request ({status} {code}): {message}")]
    Rejected {
        service: Service,
        status: u16,
        code: String,
        message: String,
    },
    /// Connection failure or 5xx.
    #[error("{service} unavailable: {detail}")]
    Unavailable { service: Service, detail: String },
    /// The call took longer than its timeout.
    #[error("{service} timed out")]
    Timeout { service: Service },
    /// The service answered something that is not the contract.
    #[error("{service} answered an unreadable body: {detail}")]
    Decode { service: Service, detail: String },
}

impl DownstreamError {
    /// The service that failed.
    pub fn service(&self) -> Service {
        match self {
            DownstreamError::NotFound { service }
            | DownstreamError::Rejected { service, .. }
            | DownstreamError::Unavailable { service, .. }
            | DownstreamError::Timeout { service }
            | DownstreamError::Decode { service, .. } => *service,
        }
    }
}

/// Stable error codes sent in `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    /// A business rule refused the operation (e.g. an order that can no longer be cancelled).
    Conflict,
    DownstreamUnavailable,
    DownstreamTimeout,
    InternalError,
}

impl ErrorCode {
    /// The wire form, e.g. `BAD_USER_INPUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::DownstreamUnavailable => "DOWNSTREAM_UNAVAILABLE",
            ErrorCode::DownstreamTimeout => "DOWNSTREAM_TIMEOUT",
            ErrorCode::InternalError => "INTERNAL_SERVER_ERROR",
        }
    }
}

/// The error of a resolver; converts into a coded GraphQL error.
#[derive(Debug, Clone)]
pub enum BffError {
    /// No valid token, and the field needs a viewer.
    Unauthenticated(&'static str),
    /// A viewer without the role the field needs.
    Forbidden(&'static str),
    /// The thing does not exist, or the viewer may not know it does.
    NotFound(String),
    /// An argument is invalid; `field` names it.
    BadUserInput {
        field: Option<String>,
        message: String,
        /// A finer code, e.g. `INSUFFICIENT_STOCK`, sent as `extensions.reason`.
        reason: Option<String>,
    },
    /// A business rule refused the operation.
    Conflict { message: String, reason: String },
    /// A downstream call failed.
    Downstream(DownstreamError),
    /// A bug on our side; the detail is logged, the client sees a generic message.
    Internal(String),
}

impl BffError {
    /// An invalid argument, naming it.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        BffError::BadUserInput {
            field: Some(field.into()),
            message: message.into(),
            reason: None,
        }
    }

    /// The code this error is sent with.
    pub fn code(&self) -> ErrorCode {
        match self {
            BffError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            BffError::Forbidden(_) => ErrorCode::Forbidden,
            BffError::NotFound(_) => ErrorCode::NotFound,
            BffError::BadUserInput { .. } => ErrorCode::BadUserInput,
            BffError::Conflict { .. } => ErrorCode::Conflict,
            BffError::Internal(_) => ErrorCode::InternalError,
            BffError::Downstream(err) => match err {
                DownstreamError::NotFound { .. } => ErrorCode::NotFound,
                DownstreamError::Rejected { status: 409, .. } => ErrorCode::Conflict,
                DownstreamError::Rejected {
                    status: 400 | 422, ..
                } => ErrorCode::BadUserInput,
                DownstreamError::Timeout { .. } => ErrorCode::DownstreamTimeout,
                DownstreamError::Unavailable { .. } => ErrorCode::DownstreamUnavailable,
                DownstreamError::Rejected { .. } | DownstreamError::Decode { .. } => {
                    ErrorCode::InternalError
                }
            },
        }
    }
}

impl From<DownstreamError> for BffError {
    fn from(err: DownstreamError) -> Self {
        BffError::Downstream(err)
    }
}

impl From<BffError> for async_graphql::Error {
    fn from(err: BffError) -> Self {
        let code = err.code();
        let (message, extend): (String, ExtensionWriter) = match err {
            BffError::Unauthenticated(msg) | BffError::Forbidden(msg) => {
                (msg.to_owned(), Box::new(|_| {}))
            }
            BffError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ("internal error".to_owned(), Box::new(|_| {}))
            }
            BffError::NotFound(what) => (format!("{what} not found"), Box::new(|_| {})),
            BffError::BadUserInput {
                field,
                message,
                reason,
            } => (
                message,
                Box::new(move |e| {
                    if let Some(field) = field {
                        e.set("field", field);
                    }
                    if let Some(reason) = reason {
                        e.set("reason", reason);
                    }
                }),
            ),
            BffError::Conflict { message, reason } => {
                (message, Box::new(move |e| e.set("reason", reason)))
            }
            BffError::Downstream(err) => downstream_message(code, err),
        };
        async_graphql::Error::new(message).extend_with(|_, e| {
            e.set("code", code.as_str());
            extend(e);
        })
    }
}

type ExtensionWriter = Box<dyn FnOnce(&mut async_graphql::ErrorExtensionValues)>;

/// The client-facing message of a downstream failure; the detail is logged, never sent.
fn downstream_message(code: ErrorCode, err: DownstreamError) -> (String, ExtensionWriter) {
    let service = err.service().as_str();
    let message = match &err {
        DownstreamError::NotFound { .. } => "not found".to_owned(),
        DownstreamError::Rejected {
            status: 400 | 409 | 422,
            message,
            ..
        } => message.clone(),
        DownstreamError::Timeout { .. } => format!("the {service} service did not answer in time"),
        _ => format!("the {service} service is unavailable"),
    };
    if matches!(
        code,
        ErrorCode::InternalError | ErrorCode::DownstreamUnavailable
    ) {
        tracing::warn!(service, error = %err, "downstream call failed");
    }
    let reason = match &err {
        DownstreamError::Rejected { code, .. } => Some(code.to_ascii_uppercase()),
        _ => None,
    };
    (
        message,
        Box::new(move |e| {
            e.set("service", service);
            if let Some(reason) = reason {
                e.set("reason", reason);
            }
        }),
    )
}

/// Shorthand for resolver results.
pub type BffResult<T> = Result<T, BffError>;
