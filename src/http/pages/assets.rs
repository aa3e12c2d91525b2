//! Files the pages need, compiled into the binary (no CDN): the NL Design System's CSS, the
//! QR scanner and our own layout. Versioned paths may be cached for a year.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One file: its path under `/static/`, media type, bytes, and whether its path carries its
/// version (so that it never changes).
struct Asset {
    path: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
    versioned: bool,
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        path: "utrecht-component-library-css-9.0.4/index.css",
        media_type: CSS,
        bytes: include_bytes!("../../../web/vendor/utrecht-component-library-css-9.0.4/index.css"),
        versioned: true,
    },
    Asset {
        path: "voorbeeld-design-tokens-7.4.1/theme.css",
        media_type: CSS,
        bytes: include_bytes!("../../../web/vendor/voorbeeld-design-tokens-7.4.1/theme.css"),
        versioned: true,
    },
    Asset {
        path: "qr-scanner-1.4.2/qr-scanner.min.js",
        media_type: JS,
        bytes: include_bytes!("../../../web/vendor/qr-scanner-1.4.2/qr-scanner.min.js"),
        versioned: true,
    },
    Asset {
        path: "qr-scanner-1.4.2/qr-scanner-worker.min.js",
        media_type: JS,
        bytes: include_bytes!("../../../web/vendor/qr-scanner-1.4.2/qr-scanner-worker.min.js"),
        versioned: true,
    },
    Asset {
        path: "kassa.js",
        media_type: JS,
        bytes: include_bytes!("../../../web/kassa.js"),
        versioned: false,
    },
    Asset {
        path: "kindpakket.css",
        media_type: CSS,
        bytes: include_bytes!("../../../web/kindpakket.css"),
        versioned: false,
    },
];

/// `GET /static/{*path}`.
pub async fn file(Path(path): Path<String>) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, "niet gevonden").into_response();
    };
    let cache = if a.versioned {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(a.media_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        a.bytes,
    )
        .into_response()
}
