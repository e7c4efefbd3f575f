/** The middle value of a list (the upper of the two middle ones when it is even); the list is left as it is. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
