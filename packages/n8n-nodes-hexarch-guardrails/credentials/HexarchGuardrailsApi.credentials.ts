import type {
  IAuthenticateGeneric,
  ICredentialTestRequest,
  ICredentialType,
  Icon,
  INodeProperties,
} from "n8n-workflow";

/**
 * Where the decision server (`hexarch-ctl serve api`) listens and the bearer token it wants:
 * its static token (`HEXARCH_API_TOKEN`) or an API key (`hxk_…`). n8n adds the token to every
 * request the node makes and tests the pair with `GET /whoami`.
 */
export class HexarchGuardrailsApi implements ICredentialType {
  name = "hexarchGuardrailsApi";

  displayName = "Hexarch Guardrails API";

  icon: Icon = { light: "file:../icons/hexarch.svg", dark: "file:../icons/hexarch.dark.svg" };

  documentationUrl =
    "https://github.com/no1rstack/hexarch-guardrails-ts/blob/main/docs/n8n.md#the-credential";

  properties: INodeProperties[] = [
    {
      displayName: "Server URL",
      name: "url",
      type: "string",
      default: "http://127.0.0.1:8099",
      placeholder: "https://guardrails.example.com",
      description:
        "Base URL of the decision server (hexarch-ctl serve api), without a trailing path",
      required: true,
    },
    {
      displayName: "Token",
      name: "token",
      type: "string",
      typeOptions: { password: true },
      default: "",
      description:
        "The server's API token (HEXARCH_API_TOKEN) or an API key (hxk_…). A key needs the decide scope to authorize and report provider calls, and the approve scope to approve or deny.",
      required: true,
    },
  ];

  authenticate: IAuthenticateGeneric = {
    type: "generic",
    properties: {
      headers: {
        Authorization: "=Bearer {{$credentials.token}}",
      },
    },
  };

  test: ICredentialTestRequest = {
    request: {
      baseURL: '={{$credentials.url.replace(/\\/+$/, "")}}',
      url: "/whoami",
      method: "GET",
    },
  };
}
