import ServiceKit

/// The OpenAPI document the service serves: its openapi.yaml, compiled into the binary, with the
/// parts every service shares.
public enum WebhooksOpenAPI {
    public static let document = OpenAPIDocument.merged(PackageResources.openapi_yaml)
}
