// Test harness: Redfish error answers of the emulated BMC (DMTF Base message registry ids, @Message.ExtendedInfo).

export class RedfishHttpError extends Error {
  constructor(
    readonly status: number,
    /** Base registry message, e.g. "PropertyValueNotInList" (the registry prefix is added). */
    readonly messageId: string,
    message: string,
    readonly related: string[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const REGISTRY = 'Base.1.8';

export function errorBody(e: RedfishHttpError): unknown {
  return {
    error: {
      code: `${REGISTRY}.GeneralError`,
      message: 'A general error has occurred. See ExtendedInfo for more information.',
      '@Message.ExtendedInfo': [
        {
          '@odata.type': '#Message.v1_1_1.Message',
          MessageId: `${REGISTRY}.${e.messageId}`,
          Message: e.message,
          RelatedProperties: e.related,
          Severity: e.status >= 500 ? 'Critical' : 'Warning',
          Resolution: 'See the message.',
        },
      ],
    },
  };
}

export const badRequest = (messageId: string, message: string, related: string[] = []) => new RedfishHttpError(400, messageId, message, related);
export const notFound = (path: string) => new RedfishHttpError(404, 'ResourceMissingAtURI', `The resource at the URI ${path} was not found.`);
export const unauthorized = () =>
  new RedfishHttpError(401, 'NoValidSession', 'There is no valid session established with the implementation.', [], {
    'WWW-Authenticate': 'Basic realm="Redfish"',
  });
export const forbidden = (privilege: string) =>
  new RedfishHttpError(403, 'InsufficientPrivilege', `There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation (${privilege}).`);
export const conflict = (messageId: string, message: string) => new RedfishHttpError(409, messageId, message);
