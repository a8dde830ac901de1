/** The UpdateItem builder the stores share: generated placeholders, no user text in expressions. */
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";

/** Collects the parts of an UpdateItem with generated placeholders (no user text in expressions). */
export class UpdateExpression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  readonly #set: string[] = [];
  readonly #remove: string[] = [];
  readonly #add: string[] = [];
  readonly #delete: string[] = [];
  readonly #conditions: string[] = [];
  readonly #placeholders = new Map<string, string>();
  #n = 0;

  /** Placeholders are reused per attribute name, and created only for names the expression uses. */
  path(...segments: string[]): string {
    return segments
      .map((segment) => {
        let placeholder = this.#placeholders.get(segment);
        if (!placeholder) {
          placeholder = `#n${this.#n++}`;
          this.#placeholders.set(segment, placeholder);
          this.names[placeholder] = segment;
        }
        return placeholder;
      })
      .join(".");
  }
  value(value: unknown): string {
    const placeholder = `:v${this.#n++}`;
    this.values[placeholder] = value;
    return placeholder;
  }
  set(path: string, expression: string): void {
    this.#set.push(`${path} = ${expression}`);
  }
  remove(path: string): void {
    this.#remove.push(path);
  }
  add(path: string, value: unknown): void {
    this.#add.push(`${path} ${this.value(value)}`);
  }
  delete(path: string, value: Set<string>): void {
    this.#delete.push(`${path} ${this.value(value)}`);
  }
  condition(expression: string): void {
    this.#conditions.push(`(${expression})`);
  }

  command(tableName: string, key: Record<string, string>) {
    const clauses = [
      this.#set.length ? `SET ${this.#set.join(", ")}` : "",
      this.#remove.length ? `REMOVE ${this.#remove.join(", ")}` : "",
      this.#add.length ? `ADD ${this.#add.join(", ")}` : "",
      this.#delete.length ? `DELETE ${this.#delete.join(", ")}` : "",
    ];
    return new UpdateCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: clauses.filter(Boolean).join(" "),
      ...(this.#conditions.length ? { ConditionExpression: this.#conditions.join(" AND ") } : {}),
      ExpressionAttributeNames: this.names,
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
      ReturnValues: "ALL_NEW",
    });
  }
}

/** DynamoDB's answer to a SET on a nested path whose parent map does not exist. */
export function isInvalidDocumentPath(err: unknown): boolean {
  return (
    err instanceof Error &&
    err.name === "ValidationException" &&
    /document path provided in the update expression is invalid/i.test(err.message)
  );
}
