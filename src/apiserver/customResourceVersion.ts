// What the server keeps about one served version of a custom resource, taken from its CRD.

/** A JSON schema node of a CRD's openAPIV3Schema (structural: every node says its type). */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  default?: unknown;
  nullable?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  [keyword: string]: unknown;
}

export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

export interface CustomResourceVersion {
  crdName: string;
  /** The version objects are stored in (conversion None: only apiVersion differs). */
  storageVersion: string;
  schema: SchemaNode | undefined;
  printerColumns: PrinterColumn[] | undefined;
  /** Set when the version is deprecated: the Warning every request to it gets. */
  deprecationWarning?: string;
}
