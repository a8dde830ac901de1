/** One page of a list, with the opaque cursor of the next one. A leaf of the domain. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}
