/**
 * API Gateway's (REST) resource matching: a request path is matched against the resource tree,
 * a literal path part before a `{param}` before a greedy `{proxy+}` (which takes one or more
 * parts), backing up to a less specific resource when a more specific branch leads nowhere. The
 * resource is chosen by path alone; the method is then looked up on it (or `ANY`): a method the
 * resource lacks is the same 403 `Missing Authentication Token` as an unknown path.
 */
import type { MethodModel, RestApiModel } from "./model.ts";

export interface RouteMatch {
  method: MethodModel;
  /** Decoded path parameters, or null when the resource has none. */
  pathParameters: Record<string, string> | null;
}

interface Node {
  path: string;
  literal: Map<string, Node>;
  param?: { name: string; node: Node };
  greedy?: { name: string; path: string };
}

export function createRouter(
  api: RestApiModel,
): (httpMethod: string, path: string) => RouteMatch | undefined {
  const root: Node = { path: "/", literal: new Map() };
  for (const resourcePath of api.resources.keys()) insert(root, resourcePath);

  return (httpMethod, path) => {
    const parts = path.split("/").filter((p, i, all) => p !== "" || (i > 0 && i < all.length - 1));
    const found = walk(root, parts, 0, {});
    if (!found) return undefined;
    const methods = api.resources.get(found.resourcePath);
    const method = methods?.get(httpMethod.toUpperCase()) ?? methods?.get("ANY");
    if (!method) return undefined;
    const names = Object.keys(found.params);
    return { method, pathParameters: names.length > 0 ? found.params : null };
  };
}

function insert(root: Node, resourcePath: string): void {
  let node = root;
  const parts = resourcePath.split("/").filter(Boolean);
  parts.forEach((part, i) => {
    const path = `/${parts.slice(0, i + 1).join("/")}`;
    const greedy = /^\{(.+)\+\}$/.exec(part);
    if (greedy?.[1]) {
      node.greedy = { name: greedy[1], path };
      return;
    }
    const param = /^\{(.+)\}$/.exec(part);
    if (param?.[1]) {
      node.param ??= { name: param[1], node: { path, literal: new Map() } };
      node = node.param.node;
      return;
    }
    let next = node.literal.get(part);
    if (!next) {
      next = { path, literal: new Map() };
      node.literal.set(part, next);
    }
    node = next;
  });
}

function walk(
  node: Node,
  parts: string[],
  index: number,
  params: Record<string, string>,
): { resourcePath: string; params: Record<string, string> } | undefined {
  if (index === parts.length) return { resourcePath: node.path, params };
  const part = parts[index] as string;
  const literal = node.literal.get(part);
  const viaLiteral = literal && walk(literal, parts, index + 1, params);
  if (viaLiteral) return viaLiteral;
  if (node.param && part !== "") {
    const viaParam = walk(node.param.node, parts, index + 1, { ...params, [node.param.name]: decode(part) });
    if (viaParam) return viaParam;
  }
  if (node.greedy) {
    return {
      resourcePath: node.greedy.path,
      params: { ...params, [node.greedy.name]: parts.slice(index).map(decode).join("/") },
    };
  }
  return undefined;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
